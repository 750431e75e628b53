"""Turning causes into notification rows: one per interested recipient, in the caller's transaction, unique on what
it is about. Delivery is queued for after the commit (and found by the sweep if that message is lost).

The builders (:func:`feed_expiry_evaluate`, :func:`health_transition`, ...) say what is worth telling and name the
occurrence (``key``); :func:`notify` decides who hears it. Texts hold names, fingerprints and dates, never a secret,
and every text is redacted with the secrets the caller knows about before it is stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.redaction import redact
from notifications.models import FEED_EVENTS, Channel, Event, Notification, Subscription


@dataclass(frozen=True)
class About:
    """The object a notification is about, as the webhook payload names it; ``feed_ids``/``target_ids`` are what
    the channels' filters match."""

    type: str
    id: int
    name: str
    path: str
    feed_ids: frozenset[int] = field(default_factory=frozenset)
    target_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def url(self) -> str:
        return f"{settings.SITE_URL.rstrip('/')}{self.path}" if settings.SITE_URL else self.path


def _enqueue(notification_id: int) -> None:
    from notifications.tasks import deliver_notification

    deliver_notification.delay_on_commit(notification_id)


def _create(**fields: Any) -> Notification | None:
    """Insert one row, or nothing when that cause was already told to that recipient (savepoint, so the caller's
    transaction goes on)."""
    try:
        with transaction.atomic():
            row = Notification.objects.create(**fields)
    except IntegrityError:
        return None
    _enqueue(row.pk)
    return row


def notify(
    *,
    event: str,
    about: About,
    key: str,
    subject: str,
    text: str,
    secrets: Iterable[str] = (),
    quiet: timedelta | None = None,
) -> list[Notification]:
    """Create one pending notification per channel (and per subscribed user, for feed events) that wants
    ``event`` about ``about``; a recipient already told about (event, object, key) gets nothing. With ``quiet``,
    a recipient told the same event about the same object less than ``quiet`` ago gets nothing either.
    Returns the rows created."""
    secrets = tuple(secrets)
    subject, text = redact(subject, secrets)[:200], redact(text, secrets)
    common = {
        "event": event,
        "object_type": about.type,
        "object_id": str(about.id),
        "object_name": about.name[:200],
        "object_url": about.url[:500],
        "key": key[:100],
        "subject": subject,
        "text": text,
    }
    recipients: list[dict[str, Any]] = []
    for channel in Channel.objects.prefetch_related("feeds", "targets"):
        if channel.wants(event, feed_ids=set(about.feed_ids), target_ids=set(about.target_ids)):
            recipients.append({"channel": channel, "recipient": f"channel:{channel.pk}"})
    if event in FEED_EVENTS and about.feed_ids:
        subscriptions = (
            Subscription.objects.filter(feeds__in=about.feed_ids, user__is_active=True)
            .exclude(user__email="")
            .select_related("user")
            .distinct()
        )
        recipients += [{"user": s.user, "recipient": f"user:{s.user_id}"} for s in subscriptions if event in s.events]
    created: list[Notification] = []
    for recipient in recipients:
        if quiet is not None and _told_recently(common, recipient["recipient"], quiet):
            continue
        row = _create(**common, **recipient)
        if row is not None:
            created.append(row)
    return created


def _told_recently(common: dict[str, Any], recipient: str, quiet: timedelta) -> bool:
    return Notification.objects.filter(
        event=common["event"],
        object_type=common["object_type"],
        object_id=common["object_id"],
        recipient=recipient,
        created_at__gte=timezone.now() - quiet,
    ).exists()


# --- expiry --------------------------------------------------------------------------------------------------
def _when(expires_at: datetime) -> str:
    return f"{expires_at:%Y-%m-%d %H:%M} UTC"


def expiry_evaluate(
    *, about: About, what: str, fingerprint: str, expires_at: datetime | None, now: datetime | None = None
) -> list[Notification]:
    """Tell about a token or credential (``what``, e.g. "The token of feed x") that expired or crossed an expiry
    threshold (``EXPIRY_THRESHOLDS_DAYS``). Only the nearest crossed threshold is told, so a token first seen 5
    days before its expiry gets the 7-day warning alone; the key is the fingerprint and threshold, so the same
    token is never warned twice for one threshold and a new token starts afresh."""
    if expires_at is None or not fingerprint:
        return []
    now = now or timezone.now()
    left = expires_at - now
    if left <= timedelta(0):
        return notify(
            event=Event.TOKEN_EXPIRED,
            about=about,
            key=f"{fingerprint}:expired",
            subject=f"{what} has expired",
            text=(
                f"{what} (fingerprint {fingerprint}) expired on {_when(expires_at)}. "
                f"Anything installing from it fails until it is replaced: {about.url}"
            ),
        )
    crossed = [d for d in settings.EXPIRY_THRESHOLDS_DAYS if left <= timedelta(days=d)]
    if not crossed:
        return []
    threshold = min(crossed)
    days = max(left.days, 0)
    in_words = "in less than a day" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    return notify(
        event=Event.TOKEN_EXPIRING,
        about=about,
        key=f"{fingerprint}:{threshold}d",
        subject=f"{what} expires {in_words}",
        text=(
            f"{what} (fingerprint {fingerprint}) expires on {_when(expires_at)} ({in_words}; "
            f"warning at {threshold} days). Replace or rotate it before then: {about.url}"
        ),
    )


def about_feed(feed: Any) -> About:
    return About("feed", feed.pk, feed.name, reverse("feeds:detail", args=[feed.pk]), feed_ids=frozenset({feed.pk}))


def about_target(target: Any) -> About:
    return About(
        "target", target.pk, target.name, reverse("targets:detail", args=[target.pk]), target_ids=frozenset({target.pk})
    )


def feed_expiry_evaluate(feed: Any, *, now: datetime | None = None) -> list[Notification]:
    """:func:`expiry_evaluate` for the feed's current token."""
    token = feed.current_token
    if token is None:
        return []
    return expiry_evaluate(
        about=about_feed(feed),
        what=f"The token of feed {feed.name}",
        fingerprint=token.fingerprint,
        expires_at=token.expires_at,
        now=now,
    )


def target_expiry_evaluate(target: Any, *, now: datetime | None = None) -> list[Notification]:
    """:func:`expiry_evaluate` for the target's credential."""
    return expiry_evaluate(
        about=about_target(target),
        what=f"The credential of target {target.name}",
        fingerprint=target.credential_fingerprint,
        expires_at=target.credential_expires_at,
        now=now,
    )


# --- health, pushes, rotations ---------------------------------------------------------------------------------
FAILING, OK, WARNING = "failing", "ok", "warning"


def health_transition(*, target: Any, previous: str, current: str, check_id: int) -> list[Notification]:
    """``health.failing`` when the target starts failing, ``health.recovered`` when it stops (to ok or warning);
    nothing while it stays. The first of each is told at once; a repeat of the same transition within
    ``NOTIFICATION_QUIET_MINUTES`` is not (a flapping target is not a flood)."""
    if current == FAILING and previous != FAILING:
        event, subject = Event.HEALTH_FAILING, f"Target {target.name} is failing"
        text = f"The health check of target {target.name} fails: its deliveries may not work. Details: "
    elif previous == FAILING and current in (OK, WARNING):
        event, subject = Event.HEALTH_RECOVERED, f"Target {target.name} recovered"
        text = f"The health check of target {target.name} is {current} again. Details: "
    else:
        return []
    about = about_target(target)
    return notify(
        event=event,
        about=about,
        key=f"check:{check_id}",
        subject=subject,
        text=text + about.url,
        quiet=timedelta(minutes=settings.NOTIFICATION_QUIET_MINUTES),
    )


def push_failure(*, push: Any, error: str, secrets: Iterable[str] = ()) -> list[Notification]:
    """``push.failed`` about the push's delivery (a push failed for good, once per push)."""
    delivery = push.delivery
    feed, target = delivery.feed, delivery.target
    about = About(
        "delivery",
        delivery.pk,
        str(delivery),
        reverse("targets:delivery-detail", args=[delivery.pk]),
        feed_ids=frozenset({feed.pk}),
        target_ids=frozenset({target.pk}),
    )
    return notify(
        event=Event.PUSH_FAILED,
        about=about,
        key=f"push:{push.pk}",
        subject=f"Pushing feed {feed.name} to {target.name} failed",
        text=(
            f"Push {push.pk} of feed {feed.name} to {target.name} ({delivery.location}) failed after "
            f"{push.attempts} attempt(s): {error} — {about.url}"
        ),
        secrets=secrets,
    )


def rotation_outcome(*, rotation: Any, status: str, secrets: Iterable[str] = ()) -> list[Notification]:
    """``rotation.completed`` or ``rotation.failed``, once per rotation: of a feed's token, or of the credential a
    target signs in with."""
    feed = rotation.feed if rotation.feed_id else None
    target = getattr(rotation, "target", None) if getattr(rotation, "target_id", None) else None
    what = f"feed {feed.name}" if feed is not None else f"target {target.name if target else '?'}"
    about = About(
        "rotation",
        rotation.pk,
        f"rotation {rotation.pk} of {what}",
        reverse("rotations:detail", args=[rotation.pk]),
        feed_ids=frozenset({feed.pk}) if feed is not None else frozenset(),
        target_ids=frozenset({target.pk}) if target is not None else frozenset(),
    )
    if status == "completed":
        return notify(
            event=Event.ROTATION_COMPLETED,
            about=about,
            key=f"rotation:{rotation.pk}",
            subject=f"The credential of {what} was rotated",
            text=(
                f"Rotation {rotation.pk} of {what} completed: {rotation.new_fingerprint or 'the new credential'} is "
                f"current everywhere; {rotation.previous_fingerprint or 'the previous one'} is kept until it is "
                f"revoked. {about.url}"
            ),
            secrets=secrets,
        )
    return notify(
        event=Event.ROTATION_FAILED,
        about=about,
        key=f"rotation:{rotation.pk}",
        subject=f"Rotation of {what} failed",
        text=(
            f"Rotation {rotation.pk} of {what} failed: {rotation.error} The previous credential "
            f"{rotation.previous_fingerprint} stays valid. {about.url}"
        ),
        secrets=secrets,
    )


def finding_opened(*, finding: Any, reopened: bool, scan: Any = None) -> list[Notification]:
    """``finding.new``: a credential found in plain sight on a target, once per finding (and once more each time a
    scan sees it again after it was resolved). The text names the place and the redacted excerpt only."""
    target = finding.target
    feed = finding.feed
    about = About(
        "finding",
        finding.pk,
        f"{finding.location} on {target.name}",
        reverse("findings:detail", args=[finding.pk]),
        feed_ids=frozenset({feed.pk}) if feed is not None else frozenset(),
        target_ids=frozenset({target.pk}),
    )
    seen_again = f":scan:{scan.pk}" if reopened and scan is not None else ""
    match = {"current": "the feed's current token", "previous": "the feed's previous token"}.get(
        str(finding.token_match), "a token Feedkeeper does not know"
    )
    return notify(
        event=Event.FINDING_NEW,
        about=about,
        key=f"finding:{finding.pk}:{finding.fingerprint}{seen_again}",
        subject=f"A credential in plain sight on {target.name}" + (" again" if reopened else ""),
        text=(
            f"{finding.location} on {target.name} holds {finding.excerpt} ({match}"
            + (f" of feed {feed.name}" if feed is not None else "")
            + f"). Replace it with a managed delivery, or rotate the token if it leaked. {about.url}"
        ),
    )
