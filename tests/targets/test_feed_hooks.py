"""Targets follow feeds through ``feeds.hooks``: a new token makes the feed's deliveries stale and pushes them,
deleting a feed names its deliveries, and pushing a feed pushes every delivery of it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from feeds import hooks
from feeds import services as feed_services
from feeds.models import Feed
from targets import services
from targets.models import Delivery, DeliveryStatus, Push


@pytest.fixture
def delivery(admin: User, feed: Feed) -> Delivery:
    target = services.target_create(
        actor=admin,
        kind="databricks",
        name="adb-hooks",
        url="https://adb-hooks.azuredatabricks.net",
        auth_type="pat",
        token="t",
    )
    delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="workspace_default")
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED)
    Push.objects.filter(delivery=delivery).delete()  # as if its first push had ended long ago
    return delivery


def test_a_new_token_makes_the_deliveries_stale_and_pushes_them(admin: User, feed: Feed, delivery: Delivery) -> None:
    feed_services.feed_set_token(actor=admin, feed=feed, token="rotated-token-4b1d")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.STALE
    assert Push.objects.open().filter(delivery=delivery).exists(), "a push of the new token is requested"


def test_deleting_a_feed_names_its_deliveries(
    login: Callable[[User], Client], admin: User, feed: Feed, delivery: Delivery
) -> None:
    assert feed_services.feed_dependents(feed) == [("deliveries", [str(delivery)])]
    page = login(admin).get(reverse("feeds:delete", args=[feed.pk])).content.decode()
    assert "adb-hooks" in page
    feed_services.feed_delete(actor=admin, feed=feed)
    event = AuditEvent.objects.get(action="feed.delete")
    assert event.detail["dependents"] == {"deliveries": [str(delivery)]}


def test_pushing_a_feed_through_the_api_pushes_each_delivery(
    api: Callable[[User], APIClient], operator: User, feed: Feed, delivery: Delivery
) -> None:
    response = api(operator).post(f"/api/v1/feeds/{feed.pk}/push/")
    assert response.status_code == 202
    (push_id,) = response.json()["ids"]
    assert Push.objects.get(pk=push_id).delivery_id == delivery.pk


def test_registering_the_hooks_again_adds_nothing(db: None) -> None:
    registries = (hooks.on_credential_changed, hooks.dependents_providers, hooks.push_all)
    before = [len(r) for r in registries]
    apps.get_app_config("targets").ready()
    assert [len(r) for r in registries] == before and all(n == 1 for n in before)
