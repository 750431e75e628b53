"""Receivers: a login opens a tracked session, a logout closes it, and a lockout is audited once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts.models import UserSession
from audit.models import AuditEvent
from audit.services import audit_record


def _ip(request: Any) -> str:
    from audit.context import client_ip

    return client_ip(request) if request is not None else ""


@receiver(user_logged_in, dispatch_uid="accounts.session_opened")
def session_opened(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if not key:
        return
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "ip": _ip(request)[:64],
            "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:300],
        },
    )


@receiver(user_logged_out, dispatch_uid="accounts.session_closed")
def session_closed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


@receiver(user_locked_out, dispatch_uid="accounts.locked_out")
def locked_out(
    sender: Any, request: Any, username: str | None = None, ip_address: str | None = None, **kw: Any
) -> None:
    """One event per lockout (the tries during it are refused without one each): axes tells of every refused
    try, so a lockout of this username from this address already recorded within the cool-off is not again."""
    from django.utils import timezone

    recent = AuditEvent.objects.filter(
        action="login_locked_out",
        object_repr=(username or "")[:150],
        at__gte=timezone.now() - timedelta(minutes=max(_cool_off_minutes(), 1)),
    )
    if any((event.detail or {}).get("ip") == (ip_address or "") for event in recent[:50]):
        return
    audit_record(
        actor=(username or "anonymous")[:150],
        action="login_locked_out",
        object_type="user",
        object_repr=(username or "")[:150],
        outcome=AuditEvent.Outcome.FAILURE,
        detail={"ip": ip_address or "", "cool_off_minutes": _cool_off_minutes()},
    )


def _cool_off_minutes() -> int:
    from django.conf import settings

    cool_off = settings.AXES_COOLOFF_TIME
    if isinstance(cool_off, timedelta):
        return int(cool_off.total_seconds() // 60)
    return int(cool_off or 0) * 60  # axes also takes hours as a number
