"""Expiry thresholds: told when a token or expiry is saved and by the hourly sweep, once per token and threshold,
only the nearest threshold for a token first seen past several, and afresh for a new token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from feeds.models import Feed
from feeds.services import feed_set_expiry, feed_set_token
from notifications.models import Channel, Notification
from notifications.services import expiry_sweep
from targets import hooks as target_hooks
from targets.models import Target
from tests.notifications.conftest import days

pytestmark = pytest.mark.django_db


def expiring(**filters: object) -> list[Notification]:
    return list(Notification.objects.filter(event="token.expiring", **filters).order_by("id"))


def test_a_token_first_seen_past_several_thresholds_gets_one_notification_for_the_nearest(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(expires_at=days(5))
    rows = expiring()
    assert [r.key for r in rows] == [f"{feed.fingerprint}:7d"]
    assert rows[0].object_type == "feed" and rows[0].object_id == str(feed.pk)
    assert "expires in 4 days" in rows[0].subject or "expires in 5 days" in rows[0].subject


def test_a_token_far_from_expiry_or_without_one_is_not_told(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    make_feed(name="far", expires_at=days(90))
    make_feed(name="never", token="another-token-value")
    expiry_sweep()
    assert Notification.objects.count() == 0


def test_repeated_sweeps_send_nothing_twice(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    make_feed(expires_at=days(20))
    for _ in range(3):
        assert expiry_sweep() == 0
    assert len(expiring()) == 1


def test_each_threshold_crossed_later_is_told_once(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(expires_at=days(20))
    now = timezone.now()
    assert expiry_sweep(now=now + timedelta(days=7)) == 1  # 13 days left: the 14-day warning
    assert expiry_sweep(now=now + timedelta(days=7, hours=1)) == 0
    assert expiry_sweep(now=now + timedelta(days=19, hours=12)) == 1  # half a day left: the 1-day warning
    fp = feed.fingerprint
    assert [r.key for r in expiring()] == [f"{fp}:30d", f"{fp}:14d", f"{fp}:1d"]


def test_an_expired_token_is_told_once_as_expired_and_not_as_expiring(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(expires_at=days(20))
    Notification.objects.all().delete()
    later = timezone.now() + timedelta(days=21)
    expiry_sweep(now=later)
    expiry_sweep(now=later + timedelta(hours=1))
    rows = list(Notification.objects.all())
    assert [(r.event, r.key) for r in rows] == [("token.expired", f"{feed.fingerprint}:expired")]


def test_a_new_token_gets_new_notifications(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(expires_at=days(5))
    feed_set_token(actor="test", feed=feed, token="the-next-token-value", expires_at=days(6))
    feed.refresh_from_db()
    keys = [r.key for r in expiring()]
    assert len(keys) == 2 and keys[1] == f"{feed.fingerprint}:7d" and keys[0] != keys[1]


def test_correcting_the_expiry_is_evaluated_when_saved(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(expires_at=days(90))
    assert Notification.objects.count() == 0
    feed_set_expiry(actor="test", feed=feed, expires_at=days(10))
    assert [r.key for r in expiring()] == [f"{feed.fingerprint}:14d"]


def test_a_target_credential_is_told_when_its_expiry_is_saved_and_by_the_sweep(
    target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    target.credential_expires_at = days(3)
    target.save()
    target_hooks.credential_expiry_changed(target)
    expiry_sweep()
    rows = expiring(object_type="target")
    assert [r.key for r in rows] == [f"{target.credential_fingerprint}:7d"]
    assert "credential of target ws-prod" in rows[0].subject


def test_the_sweep_finds_a_target_credential_nobody_announced(
    target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    Target.objects.filter(pk=target.pk).update(credential_expires_at=days(-2))
    assert expiry_sweep() == 1
    assert Notification.objects.get().event == "token.expired"


def test_a_channel_that_did_not_choose_the_event_hears_nothing(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel(events=["push.failed"])
    make_feed(expires_at=days(5))
    assert Notification.objects.count() == 0
