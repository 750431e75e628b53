"""Filters of `/api/v1/feeds/` and `/api/v1/feed-checks/`: they filter, a bad value answers 400 naming the filter,
and the schema describes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from core.models import RunState
from feeds import services
from feeds.models import CheckStatus, Feed, FeedCheck


@pytest.fixture
def client(api: Callable[[User], APIClient], viewer: User) -> APIClient:
    return api(viewer)


@pytest.fixture
def other(admin: User) -> Feed:
    return services.feed_create(
        actor=admin, name="other", kind="azure_devops", organization="o", project="p", feed_name="f", token="t-0f1e2d"
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_feed_checks_filter_by_feed_and_status(client: APIClient, feed: Feed, other: Feed) -> None:
    done = FeedCheck.objects.create(feed=feed, status=CheckStatus.OK)
    mine = set(FeedCheck.objects.filter(feed=feed).values_list("pk", flat=True))
    assert set(ids(client.get("/api/v1/feed-checks/", {"feed": feed.pk}))) == mine
    assert ids(client.get("/api/v1/feed-checks/", {"feed": feed.pk, "status": "ok"})) == [done.pk]
    pending = set(FeedCheck.objects.filter(status=RunState.PENDING).values_list("pk", flat=True))
    assert set(ids(client.get("/api/v1/feed-checks/", {"status": "pending"}))) == pending and len(pending) == 2


def test_feeds_filter_by_kind_and_name(client: APIClient, feed: Feed, other: Feed) -> None:
    assert ids(client.get("/api/v1/feeds/", {"kind": "azure_devops"})) == [other.pk]
    assert ids(client.get("/api/v1/feeds/", {"name": feed.name.upper()})) == [feed.pk]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/feed-checks/", {"feed": "abc"}, "feed"),
        ("/api/v1/feed-checks/", {"feed": "999999"}, "feed"),
        ("/api/v1/feed-checks/", {"status": "nearly"}, "status"),
        ("/api/v1/feeds/", {"kind": "nexus"}, "kind"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_filter(
    client: APIClient, feed: Feed, path: str, query: dict[str, str], field: str
) -> None:
    response = client.get(path, query)
    assert response.status_code == 400 and list(response.json()) == [field], response.content


def test_the_schema_describes_the_filters(client: APIClient) -> None:
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    def params(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    assert {"feed", "status"} <= params("/api/v1/feed-checks/")
    assert {"kind", "name"} <= params("/api/v1/feeds/")
