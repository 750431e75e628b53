"""Rotation fixtures: a feed rotated by hand, a JFrog feed with a connection, a delivery, and a recorder in place
of the worker (pages only start rotations; the engine is not what these tests are about)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from core import crypto
from feeds import connections
from feeds import services as feed_services
from feeds.models import Connection, Feed
from rotations import services
from rotations.models import Rotation
from targets.models import Delivery, DeliveryStatus, Target

FEED_TOKEN = "rot-feed-token-7c1d9e24"
JFROG_FEED_TOKEN = "rot-jfrog-token-2b8f6a13"
CONNECTION_TOKEN = "rot-connection-token-4e0a7c55"


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the rotations handed to the worker (nothing runs)."""
    seen: list[int] = []

    def record(rotation: Rotation, countdown: float | None = None) -> None:
        seen.append(rotation.pk)

    monkeypatch.setattr(services, "_enqueue", record)
    return seen


@pytest.fixture
def feed(admin: User) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token=FEED_TOKEN,
    )


@pytest.fixture
def connection(admin: User) -> Connection:
    return connections.connection_create(
        actor=admin, kind="jfrog", name="acme-jfrog", url="https://acme.jfrog.io", token=CONNECTION_TOKEN
    )


@pytest.fixture
def jfrog_feed(admin: User, connection: Connection) -> Feed:
    feed = feed_services.feed_create(
        actor=admin,
        name="acme-jfrog-py",
        kind="jfrog",
        base_url="https://acme.jfrog.io",
        repository="py",
        username="ci-bot",
        token=JFROG_FEED_TOKEN,
    )
    return feed_services.feed_update(actor=admin, feed=feed, rotation_connection=connection)


@pytest.fixture
def delivery(feed: Feed) -> Delivery:
    target = Target.objects.create(
        name="vh-acme",
        kind="valohai",
        url="https://app.valohai.example",
        auth_type="token",
        credential=crypto.encrypt("vh-target-token"),
        credential_fingerprint=crypto.fingerprint("vh-target-token"),
    )
    return Delivery.objects.create(
        feed=feed,
        target=target,
        mode="project_env",
        location="organization acme variable PIP_INDEX_URL",
        status=DeliveryStatus.DELIVERED,
        delivered_fingerprint=feed.fingerprint,
    )


def make_rotation(feed: Feed, **fields: Any) -> Rotation:
    """A rotation row as the engine leaves it (no steps unless given)."""
    return Rotation.objects.create(
        feed=feed, previous_token=feed.current_token, previous_fingerprint=feed.fingerprint, **fields
    )
