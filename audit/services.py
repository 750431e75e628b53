"""Writing audit events. Services call :func:`audit_record` inside the same transaction as the change; the event
is sealed into the hash chain once that transaction commits (see :mod:`audit.chain`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ParamSpec

from django.db import models, transaction

from audit.chain import audit_seal_quietly
from audit.models import AuditEvent
from core.redaction import redact, redact_data

SYSTEM = "system"
P = ParamSpec("P")


def audit_event(
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
    """The unsaved event :func:`audit_record` writes: ``actor`` is a user, a name or None (system); ``detail`` is
    redacted (URL credentials, Authorization values, every string in ``secrets``). Hand several to
    :func:`audit_record_many`."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    user = actor if getattr(actor, "is_authenticated", False) else None
    name = actor.get_username() if user is not None else str(actor or SYSTEM)
    return AuditEvent(
        actor=user,
        actor_name=name[:150],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id or "")[:64],
        object_repr=redact(object_repr, secrets)[:255],
        outcome=outcome,
        detail=redact_data(detail or {}, secrets),
    )


def _recorded(build: Callable[P, AuditEvent]) -> Callable[P, AuditEvent]:
    def record(*args: P.args, **kwargs: P.kwargs) -> AuditEvent:
        event = build(*args, **kwargs)
        event.save(force_insert=True)
        _seal_after_commit()
        return event

    record.__name__ = record.__qualname__ = "audit_record"
    record.__doc__ = """Append one event (the arguments of :func:`audit_event`). ``actor`` is a user, a name
    (``"system"``, ``"scheduler"``) or None (system). ``detail`` is redacted: URL credentials, Authorization values
    and every string in ``secrets``. The event is written unsealed, without any lock, and sealed after the
    surrounding transaction commits."""
    return record


audit_record = _recorded(audit_event)


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Append events built by :func:`audit_event` in one statement (a batch of pushes records one event per push),
    sealed after the surrounding transaction commits like any other."""
    if not events:
        return []
    written = AuditEvent.objects.bulk_create(events)
    _seal_after_commit()
    return written


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
