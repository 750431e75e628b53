"""API token workflows: issue and revoke, each audited in the same transaction. The tokens page and
``manage.py issue_api_token`` call these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.models import ApiToken

MAX_NAME_LENGTH = 100


def _lifetime_days(value: Any) -> int:
    if value in (None, ""):
        return int(settings.API_TOKEN_DEFAULT_DAYS)
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError({"expires_in_days": f"Enter a number of days from 1 to {settings.API_TOKEN_MAX_DAYS}."})
    return days


@transaction.atomic
def api_token_issue(
    *, actor: Any, user: Any, name: str, expires_in_days: Any = None, scope: str = ApiToken.Scope.FULL
) -> tuple[ApiToken, str]:
    """Issue an API token named ``name`` for ``user`` that expires after ``expires_in_days`` (default
    ``API_TOKEN_DEFAULT_DAYS``, at most ``API_TOKEN_MAX_DAYS``) with ``scope`` ``full`` or ``read``, and audit it
    (the event names the token's prefix, owner, scope and expiry, never the token). Returns the row and the raw
    token, which is shown once and never stored. Raises ``ValidationError`` keyed ``name``, ``expires_in_days`` or
    ``scope`` for bad input."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": f"Give the token a name of at most {MAX_NAME_LENGTH} characters."})
    days = _lifetime_days(expires_in_days)
    scope = scope or ApiToken.Scope.FULL
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": "Choose full or read."})
    expires_at = timezone.now() + timedelta(days=days)
    token, raw = ApiToken.issue(user=user, name=name, expires_at=expires_at, scope=scope)
    audit_record(
        actor=actor,
        action="api_token.issue",
        obj=token,
        object_type="api_token",
        detail={
            "prefix": token.prefix,
            "user": user.get_username(),
            "scope": scope,
            "expires_at": expires_at.isoformat(),
        },
        secrets=[raw],
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> bool:
    """Revoke ``token`` and audit it. False (and nothing recorded) when it was already revoked."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not revoked:
        return False
    audit_record(
        actor=actor,
        action="api_token.revoke",
        obj=token,
        object_type="api_token",
        detail={"prefix": token.prefix, "user": token.user.get_username()},
    )
    return True


@transaction.atomic
def api_tokens_revoke_for_user(*, actor: Any, user: Any, reason: str) -> int:
    """Revoke every active token of ``user`` (their password changed, or they were deactivated) and audit it once.
    Returns how many were revoked."""
    tokens = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True).values_list("prefix", flat=True))
    if not tokens:
        return 0
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(
        actor=actor,
        action="api_token.revoke",
        object_type="api_token",
        object_repr=user.get_username(),
        detail={"user": user.get_username(), "prefixes": tokens, "reason": reason},
    )
    return len(tokens)
