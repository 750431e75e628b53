"""Logins and failed logins are audited from Django's auth signals (there is no service in between)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from audit.models import AuditEvent
from audit.services import audit_record


def _client_ip(request: Any) -> str:
    return str(getattr(request, "META", {}).get("REMOTE_ADDR", "")) if request is not None else ""


@receiver(user_logged_in)
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action="login", obj=user, object_type="user", detail={"ip": _client_ip(request)})


@receiver(user_login_failed)
def record_failed_login(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        actor=username or "anonymous",
        action="login_failed",
        object_type="user",
        object_repr=username,
        outcome=AuditEvent.Outcome.FAILURE,
        detail={"ip": _client_ip(request)},
    )
