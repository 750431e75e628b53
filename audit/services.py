"""Writing audit events. Services call :func:`audit_record` inside the same transaction as the change; the event
is sealed into the hash chain once that transaction commits (see :mod:`audit.chain`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from audit.chain import audit_seal_quietly
from audit.models import AuditEvent
from core.redaction import redact, redact_data

SYSTEM = "system"


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: object = "",
    object_repr: str = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    secrets: Iterable[str] = (),
) -> AuditEvent:
    """Append one event. ``actor`` is a user, a name (``"system"``, ``"scheduler"``) or None (system).
    ``detail`` is redacted: URL credentials, Authorization values and every string in ``secrets``.
    The event is written unsealed, without any lock, and sealed after the surrounding transaction commits."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    user = actor if getattr(actor, "is_authenticated", False) else None
    name = actor.get_username() if user is not None else str(actor or SYSTEM)
    event = AuditEvent.objects.create(
        actor=user,
        actor_name=name[:150],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id or "")[:64],
        object_repr=redact(object_repr, secrets)[:255],
        outcome=outcome,
        detail=redact_data(detail or {}, secrets),
    )
    _seal_after_commit()
    return event


def _seal_after_commit() -> None:
    """Seal once the surrounding transaction commits: one seal per transaction, however many events it records.
    A seal already waiting in this savepoint or an enclosing one covers this event too (whatever would discard it
    would discard this event with it)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        current = set(connection.savepoint_ids)
        if any(func is audit_seal_quietly and sids <= current for sids, func, *_ in connection.run_on_commit):
            return
    transaction.on_commit(audit_seal_quietly)
