"""Delivery: each notification arrives once in its channel's format; failures retry with backoff and then fail
with a redacted error; a lost message or a dead worker's claim is recovered by the sweep without a second copy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from feeds.models import Feed
from notifications.models import Channel, Notification
from notifications.sending import notification_deliver, notifications_sweep
from notifications.services import channel_create
from notifications.tasks import sweep_notifications
from simulators.webhook_receiver import WebhookReceiver
from tests.notifications.conftest import days

pytestmark = pytest.mark.django_db


def deliver_pending() -> None:
    """What the worker does with every pending row's message."""
    for pk in Notification.objects.filter(status="pending").values_list("pk", flat=True):
        notification_deliver(notification_id=pk)


def test_a_webhook_channel_receives_the_contract_payload_once(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    channel = webhook_channel()
    feed = make_feed(expires_at=days(5))
    deliver_pending()
    deliver_pending()
    [body] = receiver.bodies()
    assert set(body) == {"event", "subject", "text", "at", "object"}
    assert body["event"] == "token.expiring"
    assert body["object"] == {"type": "feed", "id": str(feed.pk), "name": "team-feed", "url": f"/feeds/{feed.pk}/"}
    assert receiver.received[0].headers["Content-Type"] == "application/json"
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.channel_id) == ("sent", 1, channel.pk)
    assert row.sent_at is not None and row.error == ""


@override_settings(SITE_URL="https://feedkeeper.example.com")
def test_slack_receives_text_and_blocks(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel(name="slack", kind="slack", path="/services/T000/B000/XXXXXXXXXXXX")
    feed = make_feed(expires_at=days(5))
    deliver_pending()
    [body] = receiver.bodies()
    assert body["text"].startswith("The token of feed team-feed expires")
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
    assert f"<https://feedkeeper.example.com/feeds/{feed.pk}/|Open team-feed>" in body["blocks"][1]["text"]["text"]


@override_settings(SITE_URL="https://feedkeeper.example.com")
def test_teams_receives_an_adaptive_card(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel(name="teams", kind="teams", path="/workflows/abc/triggers/manual/paths/invoke")
    make_feed(expires_at=days(5))
    deliver_pending()
    [body] = receiver.bodies()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"].startswith("The token of feed team-feed expires")
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_an_email_channel_sends_one_mail_to_each_address(make_feed: Callable[..., Feed]) -> None:
    channel_create(
        actor="test", name="mail", kind="email", target="ops@example.com, sec@example.com", events=["token.expiring"]
    )
    make_feed(expires_at=days(5))
    deliver_pending()
    deliver_pending()
    [message] = mail.outbox
    assert message.to == ["ops@example.com", "sec@example.com"]
    assert message.subject.startswith("[Feedkeeper] The token of feed team-feed expires")
    assert "fingerprint" in message.body


@override_settings(NOTIFICATION_MAX_ATTEMPTS=3, NOTIFICATION_BASE_BACKOFF_SECONDS=60.0)
def test_a_channel_answering_500_is_retried_with_backoff_then_marked_failed(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel(path="/hook/very-secret-path-part")
    receiver.answers = [500, 500, 500]
    make_feed(expires_at=days(5))
    row = Notification.objects.get()
    before = timezone.now()
    notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at is not None and row.next_attempt_at >= before + timedelta(seconds=29)
    assert "HTTP 500" in row.error
    # Not due yet: neither the worker's early message nor the sweep sends it.
    assert notification_deliver(notification_id=row.pk) is None
    assert row.pk not in notifications_sweep(now=timezone.now() + timedelta(seconds=20))
    for _ in range(2):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(receiver.received) == 3
    assert row.error.startswith("127.0.0.1 answered HTTP 500")
    assert "very-secret-path-part" not in row.error


def test_a_client_error_fails_at_once_without_retrying(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel()
    receiver.answers = [404]
    make_feed(expires_at=days(5))
    deliver_pending()
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "HTTP 404" in row.error


def test_the_url_policy_is_checked_again_at_send_time(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel()
    make_feed(expires_at=days(5))
    with override_settings(PLAIN_HTTP_HOSTS=[]):
        deliver_pending()
    row = Notification.objects.get()
    assert row.status == "failed" and "must use https" in row.error
    assert receiver.received == []


def test_a_lost_message_is_sent_by_the_sweep_once(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel()
    make_feed(expires_at=days(5))  # its on_commit message never fires in this test: "lost"
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    for _ in range(3):
        sweep_notifications()  # eager: the sweep's messages run at once
    assert len(receiver.received) == 1
    assert Notification.objects.get().status == "sent"


def test_a_worker_that_died_holding_a_notification_is_replaced_once_its_lease_ran_out(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel()
    make_feed(expires_at=days(5))
    row = Notification.objects.get()
    # A worker claimed it and died: the lease is still running, so nobody else sends it.
    Notification.objects.filter(pk=row.pk).update(
        lease_until=timezone.now() + timedelta(seconds=60), attempts=1, created_at=timezone.now() - timedelta(minutes=5)
    )
    assert notification_deliver(notification_id=row.pk) is None
    assert notifications_sweep() == []
    # The lease ran out: the sweep hands it over, once.
    Notification.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    sweep_notifications()
    sweep_notifications()
    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_late_outcome_of_a_replaced_worker_is_not_written(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], receiver: WebhookReceiver
) -> None:
    webhook_channel()
    make_feed(expires_at=days(5))
    row = Notification.objects.get()
    notification_deliver(notification_id=row.pk)
    assert notification_deliver(notification_id=row.pk) is None
    assert len(receiver.received) == 1


def test_the_row_commits_with_the_change_and_is_delivered_after_the_commit(
    make_feed: Callable[..., Feed],
    webhook_channel: Callable[..., Channel],
    receiver: WebhookReceiver,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    webhook_channel()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[attr-defined]
        make_feed(expires_at=days(5))
    assert len(callbacks) >= 1
    assert len(receiver.received) == 1
    assert Notification.objects.get().status == "sent"


def test_a_change_that_rolls_back_leaves_no_notification(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel]
) -> None:
    webhook_channel()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_feed(expires_at=days(5))
        assert Notification.objects.count() == 1
        raise RuntimeError("the change fails after the notification was created")
    assert Notification.objects.count() == 0


@override_settings(NOTIFICATION_MAX_ATTEMPTS=2, NOTIFICATION_BASE_BACKOFF_SECONDS=0.0)
def test_an_unexpected_error_counts_as_a_failed_attempt_and_never_leaves_the_row_held(
    make_feed: Callable[..., Feed], webhook_channel: Callable[..., Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifications import sending

    def broken(n: Notification) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(sending, "send", broken)
    webhook_channel()
    make_feed(expires_at=days(5))
    deliver_pending()  # eager: the retry (no backoff) runs at once
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.lease_until) == ("failed", 2, None)
    assert row.error == "Unexpected error: KeyError"
