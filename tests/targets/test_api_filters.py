"""Filters of `/api/v1/deliveries/`, `/api/v1/pushes/` and `/api/v1/target-checks/`: they filter, a bad value
answers 400 naming the filter, and the schema describes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from feeds.models import Feed
from targets import services
from targets.models import Delivery, DeliveryStatus, Push, Target, TargetCheck


@pytest.fixture
def client(api: Callable[[User], APIClient], viewer: User) -> APIClient:
    return api(viewer)


def _target(admin: User, name: str) -> Target:
    return services.target_create(
        actor=admin, kind="databricks", name=name, url=f"https://{name}.azuredatabricks.net", auth_type="pat", token="t"
    )


@pytest.fixture
def placed(admin: User, feed: Feed) -> dict[str, Any]:
    """Two targets, each with one delivery of ``feed`` (a push and a health check queued for each)."""
    one, two = _target(admin, "adb-one"), _target(admin, "adb-two")
    first = services.delivery_create(actor=admin, feed=feed, target=one, mode="workspace_default")
    second = services.delivery_create(actor=admin, feed=feed, target=two, mode="secret", scope="s", key="k")
    Delivery.objects.filter(pk=second.pk).update(status=DeliveryStatus.FAILED)
    return {"one": one, "two": two, "first": first, "second": second}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json()["results"])


def test_deliveries_filter_by_target_feed_status_and_mode(
    client: APIClient, feed: Feed, placed: dict[str, Any]
) -> None:
    first, second = placed["first"].pk, placed["second"].pk
    assert ids(client.get("/api/v1/deliveries/", {"target": placed["one"].pk})) == [first]
    assert ids(client.get("/api/v1/deliveries/", {"feed": feed.pk})) == [first, second]
    assert ids(client.get("/api/v1/deliveries/", {"status": "failed"})) == [second]
    assert ids(client.get("/api/v1/deliveries/", {"mode": "secret"})) == [second]


def test_pushes_filter_by_delivery_target_and_status(client: APIClient, placed: dict[str, Any]) -> None:
    push = Push.objects.get(delivery=placed["first"])
    assert ids(client.get("/api/v1/pushes/", {"delivery": placed["first"].pk})) == [push.pk]
    assert ids(client.get("/api/v1/pushes/", {"target": placed["one"].pk})) == [push.pk]
    assert ids(client.get("/api/v1/pushes/", {"status": "succeeded"})) == []


def test_target_checks_are_listed_and_filter_by_target_and_status(client: APIClient, placed: dict[str, Any]) -> None:
    check = TargetCheck.objects.get(target=placed["two"])
    assert ids(client.get("/api/v1/target-checks/", {"target": placed["two"].pk})) == [check.pk]
    assert len(ids(client.get("/api/v1/target-checks/", {"status": "pending"}))) == 2
    assert ids(client.get("/api/v1/target-checks/", {"status": "failing"})) == []


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/deliveries/", {"target": "abc"}, "target"),
        ("/api/v1/deliveries/", {"feed": "999999"}, "feed"),
        ("/api/v1/deliveries/", {"status": "lost"}, "status"),
        ("/api/v1/deliveries/", {"mode": "carrier-pigeon"}, "mode"),
        ("/api/v1/pushes/", {"delivery": "x1"}, "delivery"),
        ("/api/v1/pushes/", {"status": "maybe"}, "status"),
        ("/api/v1/target-checks/", {"target": "-1"}, "target"),
        ("/api/v1/target-checks/", {"status": "unknown"}, "status"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_filter(
    client: APIClient, db: None, path: str, query: dict[str, str], field: str
) -> None:
    response = client.get(path, query)
    assert response.status_code == 400 and list(response.json()) == [field], response.content


def test_the_schema_describes_the_filters(client: APIClient) -> None:
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    def params(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    assert {"feed", "target", "status", "mode"} <= params("/api/v1/deliveries/")
    assert {"delivery", "target", "status"} <= params("/api/v1/pushes/")
    assert {"target", "status"} <= params("/api/v1/target-checks/")
