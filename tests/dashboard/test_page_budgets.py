"""What every page costs whatever the number of rows (bench.pages measures the time): the filter forms of the
lists name no target or feed they are not filtered by, the overview's query count stays the same when its lists
are cut ("and N more"), and a page's own navigation and session checks take a fixed handful of queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import overview
from feeds.models import FeedCheck
from rotations.models import Rotation
from targets.models import Target, TargetCheck
from tests.dashboard.test_overview_attention import make_delivery, make_feed, make_target

Login = Callable[[User], Client]


def queries(client: Client, url: str, **headers: Any) -> tuple[int, Any]:
    client.get(url, **headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries), response


@pytest.mark.parametrize("url_name", ["targets:deliveries", "rotations:list", "findings:list"])
def test_the_list_filters_take_ids_and_list_no_target_or_feed(
    login: Login, viewer: User, admin: User, url_name: str
) -> None:
    feed = make_feed(admin, "acme-private")
    targets = [make_target(f"target-{i}") for i in range(5)]
    client = login(viewer)
    body = client.get(reverse(url_name)).content.decode()
    assert 'name="target"' in body and 'name="feed"' in body
    assert "target-3" not in body and "acme-private" not in body, "no <option> per target or feed"
    chosen = client.get(reverse(url_name), {"target": targets[3].pk, "feed": feed.pk})
    text = chosen.content.decode()
    assert chosen.status_code == 200
    assert re.search(rf'name="target" value="{targets[3].pk}"', text) and "Target: target-3" in text
    assert "acme-private" in text
    assert client.get(reverse(url_name), {"target": "999999"}).status_code == 400


def test_the_overview_counts_cut_lists_without_more_queries(login: Login, viewer: User, admin: User) -> None:
    client = login(viewer)
    base = make_feed(admin, "base", token_expires_at=timezone.now() + timedelta(days=2))

    def add(n: int) -> None:
        for _ in range(n):
            i = Target.objects.count()
            target = make_target(f"t{i}", health="failing")
            TargetCheck.objects.create(target=target, status="failing", results=[{"name": "auth", "status": "failing"}])
            make_delivery(base, target, "failed", error="boom", n=i)
            feed = make_feed(admin, f"f{i}", token_expires_at=timezone.now() + timedelta(days=3))
            FeedCheck.objects.create(feed=feed, status="unreachable")
            Rotation.objects.create(feed=feed, status="failed", phase="push", error="push failed")

    add(3)
    few, _ = queries(client, "/")
    add(overview.PER_REASON + 3)
    many, response = queries(client, "/")
    assert many == few
    more = response.context["attention"].more
    assert set(more) == {"expiry", "feed_check", "delivery", "target", "rotation"}, more
    assert more["delivery"][0] == Target.objects.count() - overview.PER_REASON
    live, _ = queries(client, "/", HTTP_HX_REQUEST="true")
    assert live == many


def test_a_page_pays_a_fixed_handful_of_queries_for_the_session_and_navigation(
    login: Login, viewer: User, admin: User
) -> None:
    """Session, user, second factor and role (one query), the navigation's counts (one query), the page's own."""
    for i in range(3):
        make_delivery(make_feed(admin, f"f{i}"), make_target(f"t{i}", health="warning"), "failed", n=i)
    n, response = queries(login(viewer), reverse("api-tokens"))
    assert n <= 5, n
    assert 'class="nav-count"' in response.content.decode()


def test_counting_together_counts_what_each_query_counts(admin: User) -> None:
    for i in range(3):
        make_delivery(make_feed(admin, f"f{i}"), make_target(f"t{i}", health="failing" if i else "ok"), "stale", n=i)
    querysets = overview._attention_querysets()
    assert overview.count_together(querysets) == {key: qs.count() for key, qs in querysets.items()}
    assert overview.count_together({}) == {}
