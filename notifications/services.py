"""Notification workflows: channels (create, update, delete, test), retrying a failed notification, a user's
e-mail subscription, and the scheduled sweeps (expiry thresholds, daily digest). Each is atomic and audited where
it changes configuration; secrets appear in audit events only as fingerprints."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from core.urlpolicy import validate_service_url
from feeds.models import Feed
from notifications import emit
from notifications.models import (
    FEED_EVENTS,
    TEST,
    Channel,
    ChannelKind,
    Event,
    Notification,
    NotificationStatus,
    Subscription,
)
from notifications.sending import split_addresses
from targets.models import Target


def validate_target(kind: str, target: str) -> str:
    """The channel's addresses (e-mail) or webhook URL, checked against the URL policy; ``ValidationError`` keyed
    ``target`` with a message that never repeats the URL."""
    target = (target or "").strip()
    if not target:
        raise ValidationError({"target": "Enter the e-mail address(es) or the webhook URL."})
    if kind == ChannelKind.EMAIL:
        try:
            return ", ".join(split_addresses(target))
        except ValidationError:
            raise ValidationError({"target": "Enter e-mail addresses separated by commas."}) from None
    try:
        return validate_service_url(target, what="webhook URL", allow_query=True)
    except ValidationError as exc:
        raise ValidationError({"target": exc.messages}) from None


def _clean(values: dict[str, Any], *, kind: str) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if "kind" in values and values["kind"] not in ChannelKind.values:
        errors["kind"] = f"Choose one of {', '.join(ChannelKind.values)}."
    events = values.get("events")
    if events is not None:
        unknown = [e for e in events if e not in Event.values]
        if unknown:
            errors["events"] = f"Unknown events: {', '.join(map(str, unknown))}."
        values["events"] = [e for e in Event.values if e in events]
    if values.get("digest") and kind != ChannelKind.EMAIL:
        errors["digest"] = "Only e-mail channels send the digest."
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            errors["name"] = "Enter a name."
    if errors:
        raise ValidationError(errors)
    return values


def _name_free(name: str, exclude: int | None = None) -> None:
    qs = Channel.objects.filter(name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ValidationError({"name": "A channel with this name already exists."})


def _detail(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "kind": channel.kind,
        "events": channel.events,
        "target_fingerprint": channel.target_fingerprint,
        "digest": channel.digest,
        "feeds": sorted(f.pk for f in channel.feeds.all()),
        "targets": sorted(t.pk for t in channel.targets.all()),
    }


@transaction.atomic
def channel_create(
    *,
    actor: Any,
    name: str,
    kind: str,
    target: str,
    events: Iterable[str] = (),
    feeds: Iterable[Feed] = (),
    targets: Iterable[Target] = (),
    digest: bool = False,
) -> Channel:
    """Create a channel. Raises ``ValidationError`` (field-keyed) and changes nothing on bad input."""
    values = _clean({"name": name, "kind": kind, "events": list(events), "digest": digest}, kind=kind)
    _name_free(values["name"])
    clean_target = validate_target(kind, target)
    channel = Channel(name=values["name"], kind=kind, events=values["events"], digest=digest)
    channel.set_target(clean_target)
    channel.save()
    channel.feeds.set(list(feeds))
    channel.targets.set(list(targets))
    audit_record(
        actor=actor, action="notification_channel.create", obj=channel, detail=_detail(channel), secrets=[target]
    )
    return channel


@transaction.atomic
def channel_update(*, actor: Any, channel: Channel, **changes: Any) -> Channel:
    """Change a channel; a blank or absent ``target`` keeps the stored one. ``feeds``/``targets`` replace the
    filters when given."""
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    kind = changes.get("kind", channel.kind)
    target = changes.pop("target", None) or ""
    feeds, targets = changes.pop("feeds", None), changes.pop("targets", None)
    values = _clean(dict(changes), kind=kind)
    if "digest" not in values and kind != ChannelKind.EMAIL:
        values["digest"] = False
    if "name" in values:
        _name_free(values["name"], exclude=channel.pk)
    if kind != channel.kind and not target:
        raise ValidationError({"target": "Enter the address or URL for the new kind."})
    for field, value in values.items():
        setattr(channel, field, value)
    if target:
        channel.set_target(validate_target(kind, target))
    channel.save()
    if feeds is not None:
        channel.feeds.set(list(feeds))
    if targets is not None:
        channel.targets.set(list(targets))
    audit_record(
        actor=actor, action="notification_channel.update", obj=channel, detail=_detail(channel), secrets=[target]
    )
    return channel


@transaction.atomic
def channel_delete(*, actor: Any, channel: Channel) -> None:
    """Delete a channel and its notification history."""
    audit_record(actor=actor, action="notification_channel.delete", obj=channel, detail=_detail(channel))
    channel.delete()


@transaction.atomic
def channel_test(*, actor: Any, channel: Channel) -> Notification:
    """Queue a test message to the channel (a notification row like any other, event ``test``)."""
    now = timezone.now()
    about = emit.About("channel", channel.pk, channel.name, reverse("notifications:channels"))
    row = Notification.objects.create(
        channel=channel,
        recipient=f"channel:{channel.pk}",
        event=TEST,
        object_type=about.type,
        object_id=str(about.id),
        object_name=about.name,
        object_url=about.url,
        key=f"test:{now.isoformat()}",
        subject=f"Test message from Feedkeeper to {channel.name}",
        text=(
            f"This channel ({channel.get_kind_display()}) receives Feedkeeper's notifications: "
            f"{', '.join(channel.events) or 'no events yet'}."
        ),
    )
    emit._enqueue(row.pk)
    audit_record(actor=actor, action="notification_channel.test", obj=channel, detail={"notification": row.pk})
    return row


@transaction.atomic
def notification_retry(*, actor: Any, notification: Notification) -> Notification:
    """Send a failed notification again, with a fresh count of attempts."""
    changed = Notification.objects.filter(pk=notification.pk, status=NotificationStatus.FAILED).update(
        status=NotificationStatus.PENDING, attempts=0, next_attempt_at=None, lease_until=None
    )
    if not changed:
        raise ValidationError({"status": "Only a failed notification can be retried."})
    emit._enqueue(notification.pk)
    audit_record(actor=actor, action="notification.retry", obj=notification, detail={"event": notification.event})
    notification.refresh_from_db()
    return notification


@transaction.atomic
def subscription_save(*, user: Any, events: Iterable[str], feeds: Iterable[Feed], digest: bool = False) -> Subscription:
    """Set the user's e-mail opt-in: these events (feed events only) of these feeds, and the daily digest."""
    events = list(events)
    bad = [e for e in events if e not in FEED_EVENTS]
    if bad:
        raise ValidationError({"events": f"Not a feed event: {', '.join(bad)}."})
    if (events or digest) and not user.email:
        raise ValidationError({"events": "Your account has no e-mail address; ask an admin to set one."})
    subscription, _ = Subscription.objects.get_or_create(user=user)
    subscription.events = [e for e in FEED_EVENTS if e in events]
    subscription.digest = digest
    subscription.save()
    subscription.feeds.set(list(feeds))
    return subscription


# --- scheduled ---------------------------------------------------------------------------------------------------
def expiry_sweep(*, now: datetime | None = None) -> int:
    """Evaluate every feed token and target credential within the largest threshold (or expired); the hourly
    beat task. Returns the number of notifications created (0 on a repeat run)."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(settings.EXPIRY_THRESHOLDS_DAYS))
    created = 0
    feeds = Feed.objects.select_related("current_token").filter(current_token__expires_at__lte=horizon)
    for feed in feeds:
        with transaction.atomic():
            created += len(emit.feed_expiry_evaluate(feed, now=now))
    for target in Target.objects.filter(credential_expires_at__lte=horizon):
        with transaction.atomic():
            created += len(emit.target_expiry_evaluate(target, now=now))
    return created
