"""The hash chain: sealing committed events, verifying the chain, pruning it down to a retention anchor.

Writers insert events unsealed (no lock). :func:`audit_seal` runs in its own short transaction after they commit:
it locks the one chain-head row, takes the committed unsealed events in id order and gives each the next ``seq``,
``prev_hash`` (the previous event's hash) and ``hash``. The head lock is the only lock it takes and no business
transaction ever waits for it, so concurrent writers can neither fork the chain nor deadlock on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditAnchor, AuditChainHead, AuditEvent, AuditVerification

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# The fields a hash covers, in this order, then seq and prev_hash.
HASHED = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "outcome",
    "detail",
)
CHAIN_FIELDS = (*HASHED, "seq", "prev_hash", "hash")
# After a seal pass, a committed event still unsealed this long means sealing is failing: verification fails.
SEAL_GRACE = timedelta(minutes=5)


# Canonical JSON: sorted keys, no spaces, UTF-8 (one encoder, built once: this runs once per event verified).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _at(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (isoformat: the same text as strftime, several times faster)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(row: dict[str, Any], *, seq: int, prev_hash: str) -> bytes:
    """The bytes a hash covers: the event's content, its position and the previous hash, as canonical JSON."""
    content = {name: row[name] for name in HASHED}
    content["at"] = _at(row["at"])
    content["seq"] = seq
    content["prev_hash"] = prev_hash
    return _ENCODER.encode(content).encode()


def event_hash(row: dict[str, Any], *, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical(row, seq=seq, prev_hash=prev_hash)).hexdigest()


def _head_for_update(*, wait: bool = True) -> AuditChainHead | None:
    """The chain head, locked. Without ``wait``, None when another sealer holds it."""
    head = AuditChainHead.objects.select_for_update(skip_locked=not wait).filter(pk=1).first()
    if head is not None:
        return head
    if not wait and AuditChainHead.objects.filter(pk=1).exists():
        return None  # locked by another sealer
    AuditChainHead.objects.get_or_create(pk=1)
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _seal_sql(rows: list[tuple[int, str, str, int]]) -> None:
    # The queryset refuses updates on purpose; this is the one write the database trigger allows.
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE audit_auditevent SET seq = %s, prev_hash = %s, hash = %s"
            " WHERE id = %s AND seq IS NULL AND hash IS NULL",
            [(seq, prev, digest, pk) for pk, prev, digest, seq in rows],
        )
        if cursor.rowcount != len(rows):
            # Someone sealed one of these meanwhile (cannot happen under the head lock): leave no gap, roll back.
            raise DatabaseError(f"sealed {cursor.rowcount} of {len(rows)} audit events; rolled back")


def audit_seal(*, batch: int = 1000, wait: bool = True) -> int:
    """Seal every committed unsealed event, in id order, each in the chain after the last. Returns how many.
    Safe to run concurrently from any process: sealers queue on the chain head's row lock.

    Without ``wait`` (the seal after each commit) a sealer that finds the head locked leaves at once instead of
    queueing: the sealer holding it looks for unsealed events again after it commits, so it seals those too (an
    event committed before this sealer found the head locked is committed before the holder looks again)."""
    sealed = 0
    while AuditEvent.objects.filter(seq__isnull=True).exists():
        with transaction.atomic():
            head = _head_for_update(wait=wait)
            if head is None:
                return sealed
            rows = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id").values(*HASHED)[:batch])
            if not rows:
                return sealed
            seq, prev = head.seq, head.hash or GENESIS
            updates = []
            for row in rows:
                seq += 1
                digest = event_hash(row, seq=seq, prev_hash=prev)
                updates.append((row["id"], prev, digest, seq))
                prev = digest
            _seal_sql(updates)
            AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
            sealed += len(rows)
    return sealed


def audit_seal_quietly() -> None:
    """Seal after a commit, unless another sealer is at it (it seals this commit's events too); a failure (a
    lock timeout) is logged and left to the next run of the beat task."""
    try:
        audit_seal(wait=False)
    except DatabaseError:
        log.warning("Sealing audit events failed; the periodic seal will retry.", exc_info=True)


@dataclass
class Verification:
    """``intact`` is false when an event's hash does not match its content, it does not chain to the one before,
    events are missing, or an event stayed unsealed; ``first_broken`` is the first such event's id (null when the
    missing events were the last ones)."""

    intact: bool
    events: int
    first_broken: int | None
    reason: str = ""
    seq: int = 0
    hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "events": self.events, "first_broken": self.first_broken}


def _chain_rows(after_seq: int, batch: int) -> Iterator[dict[str, Any]]:
    last = after_seq
    while True:
        rows = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq").values(*CHAIN_FIELDS)[:batch])
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1]["seq"]


def _check(rows: Iterable[dict[str, Any]], *, seq: int, prev: str) -> Verification:
    count = 0
    for row in rows:
        if row["seq"] != seq + 1:
            missing = row["seq"] - seq - 1
            return Verification(False, count, row["id"], f"{missing} event(s) before it are missing", seq, prev)
        if row["prev_hash"] != prev:
            return Verification(False, count, row["id"], "it does not chain to the event before it", seq, prev)
        if event_hash(row, seq=row["seq"], prev_hash=prev) != row["hash"]:
            return Verification(False, count, row["id"], "its content does not match its hash", seq, prev)
        seq, prev, count = row["seq"], row["hash"], count + 1
    return Verification(True, count, None, "", seq, prev)


def audit_verify(*, seal: bool = True, incremental: bool = False, batch: int = 5000) -> Verification:
    """Recompute the chain from the latest retention anchor (or, ``incremental``, from where the last intact
    verification stopped) and store the result for the audit page. Seals first, so that only events of
    transactions still running are left out."""
    if seal:
        audit_seal_quietly()
    anchor = AuditAnchor.objects.order_by("-seq").first()
    start_seq, start_hash = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
    previous = AuditVerification.objects.filter(pk=1).first()
    counted = 0
    if incremental and previous and previous.intact and previous.seq >= start_seq and previous.hash:
        start_seq, start_hash, counted = previous.seq, previous.hash, previous.events
    result = _check(_chain_rows(start_seq, batch), seq=start_seq, prev=start_hash)
    result.events += counted
    if result.intact:
        head = AuditChainHead.objects.filter(pk=1).first()
        head_seq = head.seq if head else 0
        if head_seq > result.seq:
            result.intact = False
            result.reason = f"the last {head_seq - result.seq} event(s) are missing"
        else:
            stale = (
                AuditEvent.objects.filter(seq__isnull=True, at__lt=timezone.now() - SEAL_GRACE).order_by("id").first()
            )
            if stale is not None:
                result.intact, result.first_broken = False, stale.pk
                result.reason = "it is still unsealed: sealing is failing"
    AuditVerification.objects.update_or_create(
        pk=1,
        defaults={
            "checked_at": timezone.now(),
            "intact": result.intact,
            "events": result.events,
            "first_broken": result.first_broken,
            "reason": result.reason[:255],
            "seq": result.seq,
            "hash": result.hash,
            "full": not incremental,
        },
    )
    return result


@dataclass
class Pruned:
    pruned: int
    anchor: AuditAnchor | None


def audit_prune(*, days: int | None = None, now: datetime | None = None) -> Pruned:
    """Delete the events older than ``days`` (default ``AUDIT_RETENTION_DAYS``; 0 or none keeps everything): the
    longest run of sealed events, from the start of the chain, all older than the cutoff. First records an anchor
    (the last pruned event's ``seq`` and ``hash``) from which verification goes on; the database refuses to delete
    any event the anchor does not cover."""
    from audit.services import audit_record

    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if not days or days <= 0:
        return Pruned(0, None)
    audit_seal()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        _head_for_update()
        last = AuditAnchor.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        first_kept = (
            AuditEvent.objects.filter(seq__gt=last, at__gte=cutoff).order_by("seq").values_list("seq", flat=True)
        ).first()
        upto = (first_kept - 1) if first_kept is not None else AuditChainHead.objects.get(pk=1).seq
        if upto <= last:
            return Pruned(0, None)
        anchor_hash = AuditEvent.objects.filter(seq=upto).values_list("hash", flat=True).first()
        if anchor_hash is None:
            return Pruned(0, None)
        pruned = AuditEvent.objects.filter(seq__gt=last, seq__lte=upto).count()
        anchor = AuditAnchor.objects.create(seq=upto, hash=anchor_hash, cutoff=cutoff, pruned=pruned)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditevent WHERE seq IS NOT NULL AND seq <= %s", [upto])
        audit_record(
            actor="system",
            action="audit.prune",
            object_type="audit",
            detail={"pruned": pruned, "anchor_seq": upto, "cutoff": cutoff.isoformat(), "retention_days": days},
        )
    return Pruned(pruned, anchor)
