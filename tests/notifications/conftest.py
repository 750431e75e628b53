"""Fixtures of the notification tests: a loopback webhook receiver, channels, and a feed and target to talk about."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from feeds.models import Feed
from feeds.services import feed_create
from notifications.models import Channel, Event
from notifications.services import channel_create
from simulators.webhook_receiver import WebhookReceiver
from targets.models import Target


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def make_feed(db: None) -> Callable[..., Feed]:
    def make(name: str = "team-feed", token: str = "s3cret-token-value", expires_at: datetime | None = None) -> Feed:
        return feed_create(
            actor="test",
            name=name,
            kind="generic",
            index_url="https://pkgs.example.com/simple/",
            token=token,
            token_expires_at=expires_at,
        )

    return make


@pytest.fixture
def target(db: None) -> Target:
    t = Target(name="ws-prod", kind="databricks", url="https://adb-1.azuredatabricks.net", auth_type="pat")
    t.set_credential("dapi-target-credential")
    t.save()
    return t


@pytest.fixture
def webhook_channel(receiver: WebhookReceiver) -> Callable[..., Channel]:
    def make(
        name: str = "ops-hook", kind: str = "webhook", events: Any = None, path: str = "/hook", **kw: Any
    ) -> Channel:
        return channel_create(
            actor="test",
            name=name,
            kind=kind,
            target=receiver.url(path),
            events=events if events is not None else list(Event.values),
            **kw,
        )

    return make


def days(n: float) -> datetime:
    return timezone.now() + timedelta(days=n)
