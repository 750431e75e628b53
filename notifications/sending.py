"""Delivering notification rows: claim (a conditional update with a lease), send through the channel's kind, and
settle the outcome only while the lease is still ours. Transient failures (no answer, 429, 5xx) retry with backoff
(:func:`core.backoff.backoff`) up to ``NOTIFICATION_MAX_ATTEMPTS``; anything else fails at once. Errors stored on
the row are redacted and never hold the channel's address or URL.

Every webhook request obeys the URL policy (checked when the channel is saved and again here) and goes through the
one HTTP seam (:mod:`core.http`): its timeouts, no redirects, redacted errors. E-mail goes through Django's mail
(``EMAIL_URL``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db.models import F, Q
from django.utils import timezone

from core import http
from core.backoff import backoff
from core.redaction import redact
from core.urlpolicy import validate_service_url
from notifications import formats
from notifications.models import ChannelKind, Notification, NotificationStatus

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send failed; ``permanent`` ones are not retried. The message is already redacted."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def split_addresses(value: str) -> list[str]:
    """E-mail addresses separated by commas, semicolons or white space; raises ``ValidationError`` naming the
    first that is not one."""
    addresses = [a for a in value.replace(";", ",").replace(" ", ",").replace("\n", ",").split(",") if a.strip()]
    for address in addresses:
        validate_email(address.strip())
    return [a.strip() for a in addresses]


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL that may be its secret (Slack: the path; Teams Workflows: the query's ``sig``),
    for redaction."""
    parts = urlsplit(url)
    found = [url, parts.path, parts.query]
    found += [piece for piece in parts.path.split("/") if len(piece) >= 8]
    found += [kv.split("=", 1)[-1] for kv in parts.query.split("&") if len(kv.split("=", 1)[-1]) >= 8]
    return [s for s in found if s and s != "/"]


def post_json(url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` to a webhook URL through the HTTP seam; raise :class:`DeliveryError` unless it answers 2xx."""
    secrets = url_secrets(url)
    try:
        validate_service_url(url, what="webhook URL", allow_query=True)
    except ValidationError as exc:
        raise DeliveryError(redact(" ".join(exc.messages), secrets), permanent=True) from None
    host = urlsplit(url).hostname or "the host"
    try:
        response = http.request("POST", url, json=payload, secrets=secrets)
    except http.TransportError as exc:
        raise DeliveryError(redact(f"{host}: {exc}", secrets), permanent=False) from None
    if 200 <= response.status_code < 300:
        return
    body = redact(response.text[:200].strip(), secrets)
    message = f"{host} answered HTTP {response.status_code}" + (f": {body}" if body else "")
    transient = response.status_code == 429 or response.status_code >= 500
    if 300 <= response.status_code < 400:
        message += " (redirects are not followed; enter the final URL)"
    raise DeliveryError(
        message,
        permanent=not transient,
        retry_after=http.parse_retry_after(response.headers.get("Retry-After")),
    )


def send_email(addresses: list[str], n: Notification) -> None:
    try:
        EmailMessage(
            subject=f"[Feedkeeper] {n.subject}",
            body=n.text + (f"\n\n{n.object_url}" if n.object_url and n.object_url not in n.text else ""),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=addresses,
        ).send()
    except (OSError, ValueError) as exc:
        # smtplib's errors are OSErrors; they may quote the server's answer, never our secrets.
        raise DeliveryError(redact(f"Mail could not be sent: {type(exc).__name__}: {exc}"), permanent=False) from None


def send(n: Notification) -> None:
    """Send one notification to its recipient; raise :class:`DeliveryError` on failure."""
    if n.user_id is not None:
        if not n.user or not n.user.email:
            raise DeliveryError("The user has no e-mail address.", permanent=True)
        send_email([n.user.email], n)
        return
    channel = n.channel
    if channel is None:
        raise DeliveryError("The channel was deleted.", permanent=True)
    target = channel.reveal_target()
    if channel.kind == ChannelKind.EMAIL:
        try:
            addresses = split_addresses(target)
        except ValidationError:
            raise DeliveryError("The channel's e-mail address is not valid.", permanent=True) from None
        send_email(addresses, n)
    elif channel.kind == ChannelKind.WEBHOOK:
        post_json(target, formats.webhook_payload(n))
    elif channel.kind == ChannelKind.SLACK:
        post_json(target, formats.slack_payload(n))
    elif channel.kind == ChannelKind.TEAMS:
        legacy = formats.is_legacy_teams((urlsplit(target).hostname or "").lower())
        post_json(target, formats.teams_legacy_payload(n) if legacy else formats.teams_payload(n))
    else:
        raise DeliveryError(f"Unknown channel kind {channel.kind!r}.", permanent=True)


def _send_guarded(n: Notification) -> None:
    """:func:`send`, with an unexpected error (a bug, a broken mail backend) counted as a transient failure, so it
    is retried and then marked failed instead of leaving the row leased."""
    try:
        send(n)
    except DeliveryError:
        raise
    except Exception as exc:
        log.exception("Notification %s: unexpected error while sending", n.pk)
        raise DeliveryError(f"Unexpected error: {type(exc).__name__}", permanent=False) from None


def _claim(notification_id: int, now: datetime) -> datetime | None:
    """Take a due pending row for ``NOTIFICATION_LEASE_SECONDS``; the lease's end is the claim's token."""
    lease = now + timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    claimed = (
        Notification.objects.filter(pk=notification_id, status=NotificationStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease, attempts=F("attempts") + 1)
    )
    return lease if claimed == 1 else None


def notification_deliver(*, notification_id: int) -> Notification | None:
    """Send the notification if it is pending and due and nobody else holds it; record the outcome. Returns the
    row as settled, or None when there was nothing to do (already sent, failed, not due, or claimed elsewhere)."""
    now = timezone.now()
    lease = _claim(notification_id, now)
    if lease is None:
        return None
    n = Notification.objects.select_related("channel", "user").get(pk=notification_id)
    mine = Notification.objects.filter(pk=n.pk, lease_until=lease)
    try:
        _send_guarded(n)
    except DeliveryError as exc:
        error = str(exc)[:2000]
        if exc.permanent or n.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            mine.update(status=NotificationStatus.FAILED, lease_until=None, error=error)
            log.warning("Notification %s failed for good after %s attempt(s): %s", n.pk, n.attempts, error)
        else:
            delay = backoff(
                n.attempts,
                base=settings.NOTIFICATION_BASE_BACKOFF_SECONDS,
                cap=settings.NOTIFICATION_MAX_BACKOFF_SECONDS,
                retry_after=exc.retry_after,
            )
            mine.update(lease_until=None, error=error, next_attempt_at=timezone.now() + timedelta(seconds=delay))
            log.info("Notification %s attempt %s failed, retrying in %.0fs: %s", n.pk, n.attempts, delay, error)
            from notifications.tasks import deliver_notification

            deliver_notification.apply_async(args=[n.pk], countdown=delay)
    else:
        mine.update(status=NotificationStatus.SENT, sent_at=timezone.now(), lease_until=None, error="")
    n.refresh_from_db()
    return n


def notifications_sweep(*, now: datetime | None = None, settle_seconds: float = 10.0) -> list[int]:
    """The ids of pending rows that are due and not held (their delivery message was lost, their retry is due, or
    their worker died holding the lease), older than ``settle_seconds`` so a row just committed is left to its own
    message. The caller enqueues them; the claim makes a duplicate message harmless."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(
            status=NotificationStatus.PENDING, created_at__lte=now - timedelta(seconds=settle_seconds)
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
