"""Where events come from: a target's health check (transitions only, with a quiet period), a push that failed for
good, a rotation's outcome; and who hears them (channel filters, users' e-mail subscriptions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from feeds.models import Feed
from notifications.models import Channel, Notification
from notifications.sending import notification_deliver
from notifications.services import subscription_save
from rotations import engine
from rotations.models import Phase, Rotation, RotationStep
from targets import checks, pushing
from targets.adapters import HealthResult
from targets.models import Delivery, Push, PushStatus, Target

pytestmark = pytest.mark.django_db


def run_check(monkeypatch: pytest.MonkeyPatch, target: Target, status: str) -> None:
    monkeypatch.setattr(checks, "_run_adapter", lambda check_id, t: [HealthResult("auth", status, "detail")])
    check = checks.target_check_request(actor="test", target=target)
    checks.target_check_run(check_id=check.pk)


def events() -> list[str]:
    return list(Notification.objects.order_by("id").values_list("event", flat=True))


def test_health_tells_the_first_failing_and_the_recovery_at_once_and_nothing_while_it_stays(
    monkeypatch: pytest.MonkeyPatch, target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    run_check(monkeypatch, target, "ok")
    run_check(monkeypatch, target, "failing")
    run_check(monkeypatch, target, "failing")
    run_check(monkeypatch, target, "ok")
    run_check(monkeypatch, target, "ok")
    assert events() == ["health.failing", "health.recovered"]
    failing = Notification.objects.get(event="health.failing")
    assert (failing.object_type, failing.object_id) == ("target", str(target.pk))


def test_a_flapping_target_is_not_a_flood_within_the_quiet_period(
    monkeypatch: pytest.MonkeyPatch, target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    for _ in range(4):
        run_check(monkeypatch, target, "failing")
        run_check(monkeypatch, target, "ok")
    assert events() == ["health.failing", "health.recovered"]
    # After the quiet period the same transition is told again.
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    run_check(monkeypatch, target, "failing")
    assert events() == ["health.failing", "health.recovered", "health.failing"]


def _push(feed: Feed, target: Target, attempts: int) -> Push:
    delivery = Delivery.objects.create(feed=feed, target=target, mode="secret", location="scope/key")
    return Push.objects.create(delivery=delivery, target=target, status=PushStatus.RUNNING, attempts=attempts)


def test_push_failed_is_told_only_when_the_push_failed_for_good(
    make_feed: Callable[..., Feed], target: Target, webhook_channel: Callable[..., Channel], settings: Any
) -> None:
    settings.PUSH_MAX_ATTEMPTS = 3
    webhook_channel()
    feed = make_feed()
    push = _push(feed, target, attempts=1)
    pushing._failed(push, "HTTP 503 from the workspace", permanent=False, retry_after=None)
    assert events() == []
    Push.objects.filter(pk=push.pk).update(status=PushStatus.RUNNING, attempts=3)
    push.refresh_from_db()
    pushing._failed(push, "HTTP 503 from the workspace", permanent=False, retry_after=None)
    [row] = Notification.objects.all()
    assert row.event == "push.failed" and row.object_type == "delivery"
    assert "HTTP 503 from the workspace" in row.text and "3 attempt(s)" in row.text


def test_a_push_error_quoting_the_token_is_redacted_in_the_notification(
    make_feed: Callable[..., Feed], target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    feed = make_feed(token="leaky-token-123456")
    push = _push(feed, target, attempts=1)
    pushing._failed(push, "server said: bad value leaky-token-123456", permanent=True, retry_after=None)
    row = Notification.objects.get()
    assert "leaky-token-123456" not in row.text and "***" in row.text


def _rotation(feed: Feed) -> tuple[Rotation, RotationStep]:
    rotation = Rotation.objects.create(feed=feed, new_fingerprint="newfp", previous_fingerprint="oldfp")
    return rotation, RotationStep.objects.create(rotation=rotation, name=Phase.TEST)


def test_a_failed_rotation_is_told_once(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    rotation, step = _rotation(make_feed())
    engine._fail(rotation, step, "The feed does not accept the new token.")
    engine._fail(rotation, step, "The feed does not accept the new token.")
    [row] = Notification.objects.all()
    assert (row.event, row.object_type, row.object_id) == ("rotation.failed", "rotation", str(rotation.pk))
    assert "oldfp stays valid" in row.text and row.subject == "Rotation of feed team-feed failed"


def test_a_completed_rotation_is_told(make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]) -> None:
    webhook_channel()
    rotation, _ = _rotation(make_feed())
    RotationStep.objects.create(rotation=rotation, name=Phase.PROMOTE)
    rotation.phase = Phase.PROMOTE
    engine.step_promote(rotation)
    assert events() == ["rotation.completed"]


def test_a_channel_limited_to_some_feeds_hears_only_about_them(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    mine = make_feed(name="mine")
    channel = webhook_channel(feeds=[mine])
    make_feed(name="theirs", token="their-token-value", expires_at=timezone.now() + timedelta(days=3))
    assert not Notification.objects.filter(channel=channel).exists()
    rotation, step = _rotation(mine)
    engine._fail(rotation, step, "boom")
    assert events() == ["rotation.failed"]


def test_a_channel_limited_to_a_target_hears_its_health_and_pushes_but_not_other_feeds(
    monkeypatch: pytest.MonkeyPatch,
    make_feed: Callable[..., Feed],
    target: Target,
    webhook_channel: Callable[..., Channel],
) -> None:
    webhook_channel(targets=[target])
    feed = make_feed(expires_at=timezone.now() + timedelta(days=3))
    run_check(monkeypatch, target, "failing")
    pushing._failed(_push(feed, target, attempts=1), "refused", permanent=True, retry_after=None)
    assert events() == ["health.failing", "push.failed"]


def test_a_user_subscribed_to_a_feed_they_own_gets_its_events_by_mail(
    make_feed: Callable[..., Feed], viewer: User
) -> None:
    feed = make_feed()
    other = make_feed(name="other", token="other-token-value")
    subscription_save(user=viewer, events=["rotation.failed"], feeds=[feed])
    for f in (feed, other):
        rotation, step = _rotation(f)
        engine._fail(rotation, step, "boom")
    [row] = Notification.objects.all()
    assert row.user == viewer and row.channel is None and row.recipient == f"user:{viewer.pk}"
    notification_deliver(notification_id=row.pk)
    [message] = mail.outbox
    assert message.to == [viewer.email] and "Rotation of feed team-feed failed" in message.subject


def test_a_new_finding_is_told_once_and_again_only_when_it_comes_back(
    make_feed: Callable[..., Feed], target: Target, webhook_channel: Callable[..., Channel]
) -> None:
    from findings.models import Finding
    from findings.signals import finding_opened

    webhook_channel(events=["finding.new"])
    feed = make_feed()
    finding = Finding.objects.create(
        target=target,
        source="cluster 0101-abc",
        location="cluster 0101-abc spark_env_vars.PIP_INDEX_URL",
        fingerprint="0123456789abcdef",
        excerpt="https://ci:***@pkgs.example.com/simple/",
        host="pkgs.example.com",
        feed=feed,
        token_match="current",
    )
    finding_opened.send(sender=Finding, finding=finding, reopened=False, scan=None)
    finding_opened.send(sender=Finding, finding=finding, reopened=False, scan=None)  # a rescan: nothing new
    [row] = Notification.objects.filter(event="finding.new")
    assert (row.object_type, row.object_id) == ("finding", str(finding.pk))
    assert "https://***@pkgs.example.com/simple/" in row.text and "feed team-feed" in row.text
    assert row.subject == "A credential in plain sight on ws-prod"
    from findings.models import ScanRun

    scan = ScanRun.objects.create(target=target)
    finding_opened.send(sender=Finding, finding=finding, reopened=True, scan=scan)
    assert Notification.objects.filter(event="finding.new").count() == 2
