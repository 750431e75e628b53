"""Creating a feed or replacing its token queues one credential check of the new token, whether it came from a
page or the API; changing only the definition or the expiry queues none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import RunState
from feeds.models import Feed, FeedCheck

NEW_TOKEN = "replacement-token-71c2"
FEED = {"name": "queued", "kind": "generic", "index_url": "https://pypi.queued.example/simple/", "token": "t-5d9e0b"}


def queued(feed: Feed) -> list[FeedCheck]:
    return list(FeedCheck.objects.filter(feed=feed).order_by("id"))


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The check ids handed to the task queue (recorded instead of run)."""
    from feeds import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.run_feed_check, "delay", sent.append)
    return sent


def test_creating_a_feed_on_the_page_queues_one_check(
    login: Callable[[User], Client], admin: User, django_capture_on_commit_callbacks: Any, enqueued: list[int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin).post(reverse("feeds:create"), FEED)
    assert response.status_code == 302
    feed = Feed.objects.get(name="queued")
    (check,) = queued(feed)
    assert (check.status, check.requested_by, check.fingerprint) == (RunState.PENDING, admin, feed.fingerprint)
    assert enqueued == [check.pk], "enqueued once, after the commit"


def test_creating_a_feed_through_the_api_queues_one_check(
    api: Callable[[User], APIClient], admin: User, django_capture_on_commit_callbacks: Any, enqueued: list[int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api(admin).post("/api/v1/feeds/", FEED, format="json")
    assert response.status_code == 201, response.content
    feed = Feed.objects.get(pk=response.json()["id"])
    (check,) = queued(feed)
    assert (check.status, check.requested_by, check.fingerprint) == (RunState.PENDING, admin, feed.fingerprint)
    assert enqueued == [check.pk], "enqueued once, after the commit"


def test_replacing_the_token_on_the_page_queues_a_check_of_the_new_token(
    login: Callable[[User], Client], admin: User, feed: Feed
) -> None:
    before = queued(feed)
    response = login(admin).post(reverse("feeds:token", args=[feed.pk]), {"token": NEW_TOKEN})
    assert response.status_code == 302
    feed.refresh_from_db()
    new = queued(feed)[len(before) :]
    assert [c.fingerprint for c in new] == [feed.fingerprint] and new[0].requested_by == admin


def test_replacing_the_token_through_the_api_queues_a_check_of_the_new_token(
    api: Callable[[User], APIClient], admin: User, feed: Feed
) -> None:
    before = queued(feed)
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"token": NEW_TOKEN}, format="json")
    assert response.status_code == 200, response.content
    feed.refresh_from_db()
    new = queued(feed)[len(before) :]
    assert [c.fingerprint for c in new] == [feed.fingerprint] and new[0].requested_by == admin


def test_changing_the_definition_or_the_expiry_queues_no_check(
    api: Callable[[User], APIClient], admin: User, feed: Feed
) -> None:
    before = queued(feed)
    client = api(admin)
    assert client.patch(f"/api/v1/feeds/{feed.pk}/", {"name": "renamed"}, format="json").status_code == 200
    assert client.patch(f"/api/v1/feeds/{feed.pk}/", {"token_expires_at": None}, format="json").status_code == 200
    assert queued(feed) == before
