"""The daily digest: what expires in the next 30 days and what is failing, one e-mail per digest channel and per
user who asked for it (theirs covers the feeds they own). Once per day and recipient: the day is the key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from feeds.models import Feed
from notifications import emit
from notifications.models import DIGEST, Channel, ChannelKind, Notification, Subscription
from targets.models import Delivery, DeliveryStatus, Target

HORIZON_DAYS = 30


def digest_text(*, feeds: Any, targets: Any, now: datetime) -> tuple[str, int]:
    """The digest's body for these feeds and targets, and how many items it lists."""
    horizon = now + timedelta(days=HORIZON_DAYS)
    lines: list[str] = []
    expiring = [
        f
        for f in feeds.select_related("current_token")
        .filter(current_token__expires_at__lte=horizon)
        .order_by("current_token__expires_at")
    ]
    for feed in expiring:
        when = feed.current_token.expires_at
        state = "EXPIRED" if when <= now else f"in {(when - now).days} days"
        lines.append(f"- feed {feed.name}: token {feed.current_token.fingerprint} expires {when:%Y-%m-%d} ({state})")
    for target in targets.filter(credential_expires_at__lte=horizon).order_by("credential_expires_at"):
        when = target.credential_expires_at
        state = "EXPIRED" if when <= now else f"in {(when - now).days} days"
        lines.append(f"- target {target.name}: credential expires {when:%Y-%m-%d} ({state})")
    failing = [f"- target {t.name} is failing its health check" for t in targets.filter(health="failing")]
    failed = [
        f"- delivery {d} failed: {d.last_error[:200]}"
        for d in Delivery.objects.filter(
            status=DeliveryStatus.FAILED, feed__in=feeds, target__in=targets
        ).select_related("feed", "target")[:50]
    ]
    sections = []
    if lines:
        sections.append(f"Expiring in the next {HORIZON_DAYS} days:\n" + "\n".join(lines))
    if failing or failed:
        sections.append("Failing:\n" + "\n".join(failing + failed))
    count = len(lines) + len(failing) + len(failed)
    if not sections:
        sections.append(f"Nothing expires in the next {HORIZON_DAYS} days and nothing is failing.")
    return "\n\n".join(sections), count


def digests_send(*, now: datetime | None = None) -> int:
    """Create today's digest for every e-mail channel with ``digest`` and every subscribed user, once per day.
    Returns how many were created."""
    now = now or timezone.now()
    day = now.date().isoformat()
    created = 0
    recipients: list[tuple[dict[str, Any], Any, Any]] = []
    for channel in Channel.objects.filter(kind=ChannelKind.EMAIL, digest=True).prefetch_related("feeds", "targets"):
        feeds = (
            Feed.objects.filter(pk__in=[f.pk for f in channel.feeds.all()])
            if channel.feeds.all()
            else Feed.objects.all()
        )
        targets = (
            Target.objects.filter(pk__in=[t.pk for t in channel.targets.all()])
            if channel.targets.all()
            else Target.objects.all()
        )
        recipients.append(({"channel": channel, "recipient": f"channel:{channel.pk}"}, feeds, targets))
    for sub in (
        Subscription.objects.filter(digest=True, user__is_active=True).exclude(user__email="").select_related("user")
    ):
        feeds = Feed.objects.filter(pk__in=sub.feeds.values("pk"))
        targets = Target.objects.filter(deliveries__feed__in=feeds).distinct()
        recipients.append(({"user": sub.user, "recipient": f"user:{sub.user_id}"}, feeds, targets))
    path = reverse("overview")
    about = emit.About("digest", 0, "Feedkeeper", path)
    for recipient, feeds, targets in recipients:
        text, count = digest_text(feeds=feeds, targets=targets, now=now)
        try:
            with transaction.atomic():
                row = Notification.objects.create(
                    **recipient,
                    event=DIGEST,
                    object_type="digest",
                    object_id=day,
                    object_name=f"digest of {day}",
                    object_url=about.url,
                    key=day,
                    subject=f"Daily digest {day}: {count} item{'s' if count != 1 else ''}",
                    text=text,
                )
        except IntegrityError:
            continue
        emit._enqueue(row.pk)
        created += 1
    return created
