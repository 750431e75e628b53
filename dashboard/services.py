"""API token workflows: issue and revoke, each audited in the same transaction. The tokens page and
``manage.py issue_api_token`` call these."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.models import ApiToken

MAX_NAME_LENGTH = 100


@transaction.atomic
def api_token_issue(*, actor: Any, user: Any, name: str) -> tuple[ApiToken, str]:
    """Issue an API token named ``name`` for ``user`` and audit it (the event names the token's prefix and owner,
    never the token). Returns the row and the raw token, which is shown once and never stored. Raises
    ``ValidationError`` keyed ``name`` for an empty or too long name."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": f"Give the token a name of at most {MAX_NAME_LENGTH} characters."})
    token, raw = ApiToken.issue(user=user, name=name)
    audit_record(
        actor=actor,
        action="api_token.issue",
        obj=token,
        object_type="api_token",
        detail={"prefix": token.prefix, "user": user.get_username()},
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
        detail={"prefix": token.prefix},
    )
    return True
