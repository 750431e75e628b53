"""Feed services beyond what the pages and API show: URL resolution on update, race-safe checks, reconciling."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import CheckRun
from feeds import services
from feeds.models import Feed, FeedCheck

Index = Callable[[Callable[[httpx.Request], httpx.Response]], None]


def test_an_entered_index_url_replaces_the_parts_it_was_built_from(admin: User) -> None:
    feed = services.feed_create(
        actor=admin, name="ado", kind="azure_devops", organization="o", project="p", feed_name="f", token="t-123456"
    )
    services.feed_update(actor=admin, feed=feed, index_url="https://pkgs.dev.azure.com/o/_packaging/g/pypi/simple/")
    feed.refresh_from_db()
    assert feed.index_url.endswith("/_packaging/g/pypi/simple/")
    assert (feed.organization, feed.project, feed.feed_name) == ("", "", "")


def test_changing_a_part_rebuilds_the_url(admin: User) -> None:
    feed = services.feed_create(
        actor=admin, name="ado", kind="azure_devops", organization="o", feed_name="f", token="t-123456"
    )
    services.feed_update(actor=admin, feed=feed, project="Data Team")
    feed.refresh_from_db()
    assert feed.index_url == "https://pkgs.dev.azure.com/o/Data%20Team/_packaging/f/pypi/simple/"


def test_an_unknown_kind_or_field_is_refused(feed: Feed, admin: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.feed_update(actor=admin, feed=feed, kind="nexus")
    assert "Unknown kind" in caught.value.message_dict["kind"][0]
    with pytest.raises(ValidationError) as caught:
        services.feed_update(actor=admin, feed=feed, current_token=None)
    assert "current_token" in caught.value.message_dict


def test_a_check_runs_once_even_if_two_workers_get_it(feed: Feed, fake_index: Index) -> None:
    check = services.feed_check_request(actor="scheduler", feed=feed)
    assert services.feed_check_run(check_id=check.pk) is not None
    assert services.feed_check_run(check_id=check.pk) is None
    check.refresh_from_db()
    assert check.status == "ok" and check.attempts == 1 and check.started_at and check.finished_at


def test_a_feed_without_a_token_checks_as_an_error(db: None) -> None:
    feed = Feed.objects.create(name="bare", index_url="https://h.example/simple/")
    check = FeedCheck.objects.create(feed=feed)
    result = services.feed_check_run(check_id=check.pk)
    assert result is not None and (result.status, result.detail) == ("error", "The feed has no token to check.")


def test_reconciling_fails_stuck_checks_and_requeues_old_pending_ones(feed: Feed, fake_index: Index) -> None:
    long_ago = timezone.now() - services.STUCK_CHECK_AFTER * 2
    stuck = FeedCheck.objects.create(feed=feed, status="running", started_at=long_ago)
    pending = FeedCheck.objects.create(feed=feed, created_at=long_ago)
    fresh = FeedCheck.objects.create(feed=feed)
    assert services.feed_checks_reconcile() == {"failed_stuck": 1, "requeued": 1}
    statuses = dict(CheckRun.objects.values_list("pk", "status"))
    assert statuses[stuck.pk] == "error" and statuses[pending.pk] == "ok" and statuses[fresh.pk] == "pending"
