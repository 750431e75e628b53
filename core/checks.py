"""The lifecycle every check shares, whatever it checks: a :class:`~core.models.CheckRun` row is requested
(``pending``, enqueued once committed), claimed by exactly one worker (``running``), and finished with the final
status its kind defines. :func:`reconcile` recovers from workers that died: it fails runs stuck ``running`` and
enqueues again runs left ``pending``.

Each kind keeps its own final statuses (as ``TextChoices`` in the app that owns the kind) and its own work; this
module owns only the states and transitions they have in common."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import CheckRun, RunState

__all__ = [
    "MAX_DETAIL",
    "ReconcileResult",
    "RunState",
    "claim",
    "finish",
    "reconcile",
    "request",
    "request_many",
    "requester",
]

MAX_DETAIL = 2000
REQUEUE_BATCH = 500

Run = TypeVar("Run", bound=CheckRun)
Enqueue = Callable[[int], object]


def requester(actor: Any) -> Any:
    """The user to record as having asked for a check: ``actor`` when it is a signed-in user, else None (the
    scheduler, the system, a script)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def request(model: type[Run], *, actor: Any, enqueue: Enqueue, **fields: Any) -> Run:
    """Create a pending check of ``model`` (with ``fields``) and call ``enqueue(check_id)`` once the row is
    committed, so a worker never looks for a row it cannot see. Returns the row to poll."""
    with transaction.atomic():
        check = model.objects.create(requested_by=requester(actor), **fields)
        transaction.on_commit(lambda: enqueue(check.pk))
    return check


def request_many(model: type[Run], *, kind: str, actor: Any, enqueue: Enqueue, rows: list[dict[str, Any]]) -> list[Run]:
    """:func:`request` for many checks at once (a sweep over every target): one insert for the shared rows and
    one for the kind's own, however many; each is enqueued once committed. ``rows`` holds each check's own fields.
    Django's ``bulk_create`` refuses a model that inherits another table, so the kind's rows are inserted with the
    parent rows' ids the way ``save()`` inserts one."""
    if not rows:
        return []
    user = requester(actor)
    meta = model._meta
    link: Any = meta.parents[CheckRun]
    with transaction.atomic():
        parents = CheckRun.objects.bulk_create([CheckRun(kind=kind, requested_by=user) for _ in rows])
        runs = []
        for parent, fields in zip(parents, rows, strict=True):
            run = model(**fields)
            for field in CheckRun._meta.concrete_fields:
                setattr(run, field.attname, getattr(parent, field.attname))
            setattr(run, link.attname, parent.pk)
            run._state.adding = False
            runs.append(run)
        manager: Any = model._base_manager
        manager._insert(runs, fields=meta.local_concrete_fields, using=transaction.get_connection().alias)
        ids = [run.pk for run in runs]
        transaction.on_commit(lambda: [enqueue(pk) for pk in ids])
    return runs


def claim(check_id: int, kind: str) -> bool:
    """Take check ``check_id`` of ``kind`` for the caller: pending becomes running, ``attempts`` grows by one and
    ``started_at`` is now, in one conditional update. True only when exactly this call changed the row, so a check
    runs once even when two workers get it; False for an unknown id, another kind, or a run already taken."""
    claimed = CheckRun.objects.filter(pk=check_id, kind=kind, status=RunState.PENDING).update(
        status=RunState.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    return claimed == 1


def finish(check: CheckRun, *, status: str, detail: str, **fields: Any) -> None:
    """Record the result of a claimed check: its final ``status``, ``detail`` (cut to :data:`MAX_DETAIL`
    characters), ``finished_at`` now, and the kind's own result ``fields``. Saves only those columns; call it in
    the transaction that also records the audit event."""
    if status in RunState.values:
        raise ValueError(f"{status!r} is not a final status.")
    check.status, check.detail, check.finished_at = status, detail[:MAX_DETAIL], timezone.now()
    for name, value in fields.items():
        setattr(check, name, value)
    check.save(update_fields=["status", "detail", "finished_at", *fields])


@dataclass(frozen=True)
class ReconcileResult:
    """What one :func:`reconcile` sweep did: runs failed because they were stuck, and runs enqueued again."""

    failed_stuck: int
    requeued: int

    def as_dict(self) -> dict[str, int]:
        return {"failed_stuck": self.failed_stuck, "requeued": self.requeued}


def reconcile(
    kind: str,
    *,
    stuck_after: timedelta,
    requeue_after: timedelta,
    enqueue: Enqueue,
    stuck_status: str,
    stuck_detail: str,
) -> ReconcileResult:
    """Nothing is lost when a worker dies. Runs of ``kind`` still running ``stuck_after`` their start are finished
    as ``stuck_status`` with ``stuck_detail`` (the worker that had them is gone); runs still pending
    ``requeue_after`` their creation are enqueued again (at most :data:`REQUEUE_BATCH` a sweep; :func:`claim`
    makes a duplicate delivery harmless)."""
    now = timezone.now()
    runs = CheckRun.objects.filter(kind=kind)
    failed = runs.filter(status=RunState.RUNNING, started_at__lt=now - stuck_after).update(
        status=stuck_status, finished_at=now, detail=stuck_detail[:MAX_DETAIL]
    )
    pending = list(
        runs.filter(status=RunState.PENDING, created_at__lt=now - requeue_after)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    for pk in pending:
        enqueue(pk)
    return ReconcileResult(failed_stuck=failed, requeued=len(pending))
