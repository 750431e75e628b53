"""Pushing deliveries: request, dispatch under a per-target cap, run, retry, recover, cover.

The database is the source of truth. A push is a row; it is requested (``pending``), dispatched (``dispatched_at``)
with the other ready pushes of its target as one batch when the target has none in flight (one task per batch),
claimed by exactly one worker (``running``, by a conditional update that also counts the attempt) and ends
``succeeded`` or ``failed``. The adapter gets the batch at once and makes at most ``Target.max_concurrency``
platform calls at a time for it. Transient failures go back to ``pending`` with a backoff. Tasks carry ids only.

Concurrency rules:

- **Lock order.** Whoever locks a target row does it before any push row, with ``FOR NO KEY UPDATE`` (it serialises
  the target's requesters and dispatchers, yet lets the foreign keys of new pushes take their ``FOR KEY SHARE``),
  several targets in id order. Push rows come next, then delivery rows. Transactions stay short: a request over
  many deliveries commits per chunk of targets, and the dispatcher marks deliveries ``pushing`` after releasing the
  target. A transaction that still loses a lock conflict (deadlock victim, serialization failure) is run again
  with a small jittered backoff, a bounded number of times, unless it is part of a caller's outer transaction.
- **Claim-guarded outcomes.** A worker writes a push's outcome only while it still holds its claim: a conditional
  update on ``status=running`` and the attempt number it claimed. If another worker took the push over, the late
  outcome is logged and dropped.
- **Heartbeats.** While the adapter works (in a helper thread), the worker thread writes ``heartbeat_at`` every
  ``PUSH_HEARTBEAT_SECONDS``. A push is *stuck* only when its heartbeat is older than ``PUSH_STUCK_AFTER_SECONDS``
  (its worker died), never because it started long ago, so a long push is never run twice while it is alive.
- **Deadline.** Celery's time limits do not apply to the threads pool, so each push has its own deadline
  (``PUSH_DEADLINE_SECONDS``): the worker thread waits for the adapter at most that long, then abandons the call
  (the helper thread finishes it in the background, bounded by the HTTP timeouts of each request; adapters are
  idempotent, so the retry and a late finish write the same value) and records a transient failure: it retries.
- **Database errors.** A dropped connection or lock conflict around the claim, the heartbeat and the outcome is
  retried on a fresh connection with backoff; if it keeps failing the push is left to be taken over when its
  heartbeat expires. Nothing is stranded and the worker thread never dies of it.
- **Recovery** (:func:`pushes_recover`, every ``PUSH_RECONCILE_EVERY_SECONDS``): takes over pushes whose heartbeat
  expired, re-dispatches pushes the broker lost (dispatched longer than ``PUSH_DISPATCH_LOST_AFTER_SECONDS`` ago,
  never started: a broker restarted empty), requests pushes for deliveries left without one, and dispatches.
- **Coverage** (:func:`pushes_cover`, every ``PUSH_COVERAGE_EVERY_SECONDS``): one task per target asks its adapter,
  in one call, which delivered deliveries need a push again (a new project, a cluster now terminated).
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, wait
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_event, audit_record, audit_record_many
from core import crypto
from core.backoff import backoff
from core.db import update_rows
from core.redaction import redact
from targets import signals
from targets.adapters import AdapterError, PushResult
from targets.adapters.base import PushItem
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target

log = logging.getLogger(__name__)

PUSH_STUCK_AFTER = timedelta(seconds=settings.PUSH_STUCK_AFTER_SECONDS)
DISPATCH_LOST_AFTER = timedelta(seconds=settings.PUSH_DISPATCH_LOST_AFTER_SECONDS)
# A request over many deliveries commits per chunk of whole targets of about this many deliveries.
REQUEST_CHUNK = 200
# Dispatchers lock at most this many targets in one transaction.
DISPATCH_CHUNK = 200
# Lock conflicts are retried quickly; a lost connection is given more time to come back.
CONFLICT_BACKOFF = (0.05, 1.0)
CONNECTION_BACKOFF = (0.5, 8.0)
# SQLSTATEs of a transaction that lost a lock conflict and may simply run again.
_CONFLICTS = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
_DB_ERRORS = (OperationalError, InterfaceError)

T = TypeVar("T")


# --- database resilience ---------------------------------------------------------------------------------------
def _is_conflict(exc: BaseException) -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _CONFLICTS or getattr(cause, "pgcode", None) in _CONFLICTS:
        return True
    return "database is locked" in str(exc)  # SQLite's busy timeout ran out


def _reset_connection() -> None:
    """Drop this thread's database connection after an error, so the next query opens a fresh one. Inside an
    outer transaction nothing is closed: that transaction is lost either way and its owner decides."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except _DB_ERRORS as exc:
        log.debug("Closing a broken database connection failed: %s", exc)


def _db(fn: Callable[[], T], *, what: str) -> T:
    """Run ``fn`` (one transaction, or none) and run it again when it lost a lock conflict or the database
    connection failed, up to ``PUSH_DB_ATTEMPTS`` times with jittered backoff, on a fresh connection. Within a
    caller's outer transaction it runs once: a failed statement has already doomed that transaction."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except _DB_ERRORS as exc:
            if connection.in_atomic_block or attempt >= settings.PUSH_DB_ATTEMPTS:
                raise
            conflict = _is_conflict(exc)
            base, cap = CONFLICT_BACKOFF if conflict else CONNECTION_BACKOFF
            delay = backoff(attempt, base=base, cap=cap)
            log.warning(
                "%s: %s (attempt %d); retrying in %.2f s",
                what,
                "lock conflict" if conflict else "database error",
                attempt,
                delay,
                exc_info=not conflict,
            )
            if not conflict:
                _reset_connection()
            time.sleep(delay)


# --- requesting ------------------------------------------------------------------------------------------------
def push_request(*, delivery: Delivery, actor: Any, restart_consent: bool = False, reason: str = "manual") -> Push:
    """Ask for ``delivery`` to be pushed. A delivery has at most one waiting push: asking again returns it
    (adding restart consent if given now). The push is dispatched once this transaction commits."""
    return pushes_request(deliveries=[delivery], actor=actor, restart_consent=restart_consent, reason=reason)[0]


def pushes_request(
    *, deliveries: Iterable[Delivery], actor: Any, restart_consent: bool = False, reason: str = "manual"
) -> list[Push]:
    """Request a push of each delivery in a few queries per chunk of targets (a "push all" over thousands of
    deliveries must neither run thousands of statements nor hold locks long in the operator's request). Returns one
    push per delivery, in order; each target is dispatched once its chunk commits.

    Each chunk locks its targets first (id order), then the deliveries' waiting pushes, and commits; the one audit
    event of the request is written with the last chunk. A chunk that loses a lock conflict runs again."""
    deliveries = list({d.pk: d for d in deliveries}.values())
    if not deliveries:
        return []
    user = actor if getattr(actor, "is_authenticated", False) else None
    by_target: dict[int, list[Delivery]] = {}
    for d in deliveries:
        by_target.setdefault(d.target_id, []).append(d)
    chunks: list[list[int]] = [[]]
    size = 0
    for target_id in sorted(by_target):
        if size >= REQUEST_CHUNK:
            chunks.append([])
            size = 0
        chunks[-1].append(target_id)
        size += len(by_target[target_id])
    found: dict[int, Push] = {}
    for number, chunk in enumerate(chunks, start=1):
        part = [d for target_id in chunk for d in by_target[target_id]]
        audit = functools.partial(_audit_request, user, deliveries, found, restart_consent) if user else None
        found.update(
            _db(
                functools.partial(
                    _request_chunk,
                    chunk,
                    part,
                    user=user,
                    restart_consent=restart_consent,
                    reason=reason,
                    audit=audit if number == len(chunks) else None,
                ),
                what=f"push request ({len(part)} deliveries)",
            )
        )
    return [found[d.pk] for d in deliveries]


def _request_chunk(
    target_ids: list[int],
    deliveries: list[Delivery],
    *,
    user: Any,
    restart_consent: bool,
    reason: str,
    audit: Callable[[dict[int, Push]], None] | None,
) -> dict[int, Push]:
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        # The lock order: targets (id order) first, as the dispatcher does, then pushes.
        list(Target.objects.select_for_update(no_key=True).filter(pk__in=target_ids).order_by("pk").values("pk"))
        waiting: dict[int, Push] = {}
        for push in (
            Push.objects.select_for_update()
            .filter(delivery_id__in=ids, status=PushStatus.PENDING, started_at__isnull=True)
            .order_by("id")
        ):
            waiting.setdefault(push.delivery_id, push)  # the oldest wins
        if restart_consent:
            Push.objects.filter(pk__in=[p.pk for p in waiting.values() if not p.restart_consent]).update(
                restart_consent=True
            )
            for push in waiting.values():
                push.restart_consent = True
        fresh = [
            Push(delivery=d, target_id=d.target_id, restart_consent=restart_consent, requested_by=user, reason=reason)
            for d in deliveries
            if d.pk not in waiting
        ]
        created = {p.delivery_id: p for p in Push.objects.bulk_create(fresh)}
        pushes = {d.pk: waiting.get(d.pk) or created[d.pk] for d in deliveries}
        if audit is not None:
            audit(pushes)
        # Once committed, the chunk's targets that have no batch in flight get one (the others get theirs when
        # their batch in flight ends): a few statements and one task per target, no dispatch task in between.
        transaction.on_commit(functools.partial(_dispatch_many, target_ids), robust=True)
    return pushes


def _audit_request(
    user: Any, deliveries: list[Delivery], earlier: dict[int, Push], restart_consent: bool, last: dict[int, Push]
) -> None:
    every = {**earlier, **last}
    push_ids = [every[d.pk].pk for d in deliveries if d.pk in every]
    detail = {"pushes": push_ids[:500], "restart_consent": restart_consent, "count": len(deliveries)}
    if len(deliveries) == 1:
        audit_record(actor=user, action="delivery.push_requested", obj=deliveries[0], detail=detail)
        return
    audit_record(
        actor=user,
        action="delivery.push_requested",
        object_type="delivery",
        object_repr=f"{len(deliveries)} deliveries",
        detail={**detail, "deliveries": [d.pk for d in deliveries][:500]},
    )


def _enqueue_dispatch(target_id: int, countdown: float | None = None) -> None:
    from targets.tasks import dispatch_pushes

    if countdown:
        dispatch_pushes.apply_async((target_id,), countdown=countdown)
    else:
        dispatch_pushes.delay(target_id)


# --- dispatching -----------------------------------------------------------------------------------------------
def push_dispatch(*, target_id: int) -> int:
    """Hand the target's ready pushes to a worker as one batch, if it has none in flight. Returns how many pushes
    the batch holds (0: nothing ready, or a batch is already dispatched or running)."""
    dispatched, _ = _dispatch_many([target_id])
    return dispatched


def _dispatch(target_id: int, *, take_one: bool) -> tuple[int, int | None]:
    """Dispatch the target's next batch; with ``take_one`` the caller (the worker that just finished the target's
    previous batch) keeps it instead of sending it through the broker."""
    return _dispatch_many([target_id], keep=target_id if take_one else None)


def _dispatch_many(target_ids: Iterable[int], *, keep: int | None = None) -> tuple[int, int | None]:
    """Give each target's ready pushes (at most ``PUSH_BATCH_MAX``) to one worker as one batch, unless a batch of
    it is already dispatched or running: a target has one batch in flight at a time, and that batch makes at most
    ``Target.max_concurrency`` platform calls at once. Dispatchers of one target are serialised by a row lock on
    it. One task goes to the broker per batch (the worker that claims its first push claims the rest with it);
    the batch of target ``keep`` is not sent but returned, for the worker that just finished that target's
    previous batch to run itself. Returns (how many pushes were dispatched, the push id kept).

    The target locks are held only to pick and mark the pushes, a few statements for any number of targets; the
    deliveries are marked ``pushing`` after they are released, and only then are the tasks sent (so a worker never
    finishes one before its delivery says so)."""
    ids = sorted(set(target_ids))
    picked: dict[int, list[tuple[int, int]]] = {}
    for start in range(0, len(ids), DISPATCH_CHUNK):
        chunk = ids[start : start + DISPATCH_CHUNK]
        picked.update(_db(functools.partial(_pick_batches, chunk), what=f"dispatch of {len(chunk)} target(s)"))
    if not picked:
        return 0, None
    delivery_ids = sorted({d for batch in picked.values() for _, d in batch})
    _db(
        lambda: Delivery.objects.filter(pk__in=delivery_ids).update(status=DeliveryStatus.PUSHING),
        what=f"dispatch of {len(picked)} target(s)",
    )
    from targets.tasks import run_push

    kept = None
    for target_id, batch in picked.items():
        if target_id == keep:
            kept = batch[0][0]
        else:
            transaction.on_commit(functools.partial(run_push.delay, batch[0][0]), robust=True)
    return sum(len(batch) for batch in picked.values()), kept


def _pick_batches(target_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Lock the targets (id order), skip those with a batch in flight, and mark the next batch of each other one
    dispatched. Returns {target id: [(push id, delivery id), ...]} in the order the pushes were requested."""
    now = timezone.now()
    with transaction.atomic():
        locked = list(
            Target.objects.select_for_update(no_key=True)
            .filter(pk__in=target_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not locked:
            return {}
        in_flight = Q(status=PushStatus.RUNNING) | Q(status=PushStatus.PENDING, dispatched_at__isnull=False)
        busy = set(Push.objects.filter(in_flight, target_id__in=locked).values_list("target_id", flat=True).distinct())
        idle = [pk for pk in locked if pk not in busy]
        if not idle:
            return {}
        rows = (
            Push.objects.filter(target_id__in=idle, status=PushStatus.PENDING, dispatched_at__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .annotate(place=Window(RowNumber(), partition_by=[F("target_id")], order_by=[F("created_at"), F("id")]))
            .filter(place__lte=settings.PUSH_BATCH_MAX)
            .order_by("target_id", "created_at", "id")
            .values_list("pk", "target_id", "delivery_id")
        )
        picked: dict[int, list[tuple[int, int]]] = {}
        for pk, target_id, delivery_id in rows:
            picked.setdefault(target_id, []).append((pk, delivery_id))
        if picked:
            Push.objects.filter(pk__in=[pk for batch in picked.values() for pk, _ in batch]).update(dispatched_at=now)
    return picked


# --- running ---------------------------------------------------------------------------------------------------
def push_run(*, push_id: int) -> Push | None:
    """Run a dispatched push: claim it, push the feed's current credentialed URL, verify, record the outcome. Then
    keep the freed slot busy: run the target's next ready push in the same task (no broker round trip), at most
    ``PUSH_KEEP_SLOT_MAX`` pushes or ``PUSH_KEEP_SLOT_SECONDS``; after that the next one goes through the broker,
    so one task never holds a worker thread for ever. Returns the first push, or None when it was not claimable
    (done, or taken by another worker)."""
    first: Push | None = None
    current: int | None = push_id
    ran = 0
    started = time.monotonic()
    while current is not None:
        push = _claim(current)
        if push is None:
            return first
        batch = [push, *_claim_siblings(push)]
        done = _run_batch(batch)[0]
        first = first or done
        ran += len(batch)
        keep = ran < settings.PUSH_KEEP_SLOT_MAX and time.monotonic() - started < settings.PUSH_KEEP_SLOT_SECONDS
        try:
            _, current = _dispatch(push.target_id, take_one=keep)
        except _DB_ERRORS:
            log.warning("Dispatch after push %s failed; the reconciler will dispatch", push.pk, exc_info=True)
            _reset_connection()
            return first
    return first


def _claim(push_id: int) -> Push | None:
    """Take the push (pending and dispatched) for this worker, counting the attempt. None when someone else has
    it, it is done, or the database failed: then the push is either still dispatched (re-dispatched when the
    dispatch counts as lost) or running without a heartbeat (taken over when it expires)."""
    now = timezone.now()
    try:
        claimed = _db(
            lambda: Push.objects.filter(pk=push_id, status=PushStatus.PENDING, dispatched_at__isnull=False).update(
                status=PushStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
            ),
            what=f"claim of push {push_id}",
        )
        if claimed != 1:
            return None
        return _db(
            lambda: Push.objects.select_related(*_CLAIM_RELATED).filter(pk=push_id, status=PushStatus.RUNNING).first(),
            what=f"claim of push {push_id}",
        )
    except _DB_ERRORS:
        log.exception("Claiming push %s failed; it will be recovered", push_id)
        _reset_connection()
        return None


_CLAIM_RELATED = ("delivery__feed__current_token", "delivery__target", "requested_by")


class DeadlineExceeded(Exception):
    """The adapter did not finish a push within ``PUSH_DEADLINE_SECONDS``."""


def _claim_siblings(push: Push) -> list[Push]:
    """Also take the target's other pushes that were dispatched with it but not yet claimed, so the adapter gets
    them as one batch and may share calls between them. One update claims them all; the claim's start time tells
    them apart from pushes another worker claimed meanwhile."""
    waiting = Push.objects.filter(
        target_id=push.target_id, status=PushStatus.PENDING, dispatched_at__isnull=False, started_at__isnull=True
    )
    now = timezone.now()
    try:
        picked = waiting.exclude(pk=push.pk).order_by("created_at", "id").values("pk")[: settings.PUSH_BATCH_MAX - 1]
        claimed = _db(
            lambda: waiting.filter(pk__in=Subquery(picked)).update(
                status=PushStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
            ),
            what=f"batch of push {push.pk}",
        )
        if not claimed:
            return []
        return _db(
            lambda: list(
                Push.objects.select_related(*_CLAIM_RELATED)
                .filter(target_id=push.target_id, status=PushStatus.RUNNING, started_at=now)
                .exclude(pk=push.pk)
                .order_by("created_at", "id")
            ),
            what=f"batch of push {push.pk}",
        )
    except _DB_ERRORS:
        # Claimed rows that could not be read back are taken over once their heartbeat expires.
        log.exception("Claiming the batch of push %s failed; it runs alone", push.pk)
        _reset_connection()
        return []


def _run_batch(pushes: list[Push]) -> list[Push]:
    """Run claimed pushes of one target as one batch through the adapter's ``push_many``, under one heartbeat and
    deadline, then record each outcome on its own (claim-guarded)."""
    target = pushes[0].delivery.target
    items: list[PushItem] = []
    meta: dict[int, tuple[Push, str, list[str]]] = {}
    outcomes: dict[int, Callable[[], Push]] = {}
    for push in pushes:
        delivery = push.delivery
        delivery.target = push.target = target
        feed = delivery.feed
        if feed.current_token is None:
            outcomes[push.pk] = functools.partial(
                _failed, push, "The feed has no token to deliver.", permanent=True, retry_after=None
            )
            continue
        try:
            value = feed.credentialed_url()
            secrets = [feed.current_token.reveal(), value, feed.effective_username]
        except crypto.DecryptionError as exc:
            # A missing encryption key: no retry can help (and six would only hide the cause).
            outcomes[push.pk] = functools.partial(_failed, push, str(exc), permanent=True, retry_after=None)
            continue
        except Exception as exc:
            log.exception("Push %s could not read its feed's token", push.pk)
            message = f"The feed's token could not be read: {type(exc).__name__}"
            outcomes[push.pk] = functools.partial(_failed, push, message, permanent=False, retry_after=None)
            continue
        item = PushItem(delivery=delivery, value=value, restart_consent=push.restart_consent)
        items.append(item)
        meta[id(item)] = (push, feed.current_token.fingerprint, secrets)
    successes: list[tuple[Push, str, PushResult]] = []
    if items:
        _push_items(target, items, meta, outcomes, successes)
    done: dict[int, Push] = {}
    if successes:
        try:
            done.update({p.pk: p for p in _succeeded_many(successes)})
        except Exception:
            log.exception(
                "The outcomes of pushes %s could not be written; they will run again", [p.pk for p, *_ in successes]
            )
            _reset_connection()
            done.update({p.pk: p for p, *_ in successes})
    for push in pushes:
        if push.pk in done:
            continue
        try:
            done[push.pk] = outcomes[push.pk]()
        except Exception:
            # Retried already (see ``_db``): leave the push running; it is taken over once its heartbeat expires.
            log.exception("The outcome of push %s could not be written; it will run again", push.pk)
            _reset_connection()
            done[push.pk] = push
    return [done[push.pk] for push in pushes]


def _push_items(
    target: Target,
    items: list[PushItem],
    meta: dict[int, tuple[Push, str, list[str]]],
    outcomes: dict[int, Callable[[], Push]],
    successes: list[tuple[Push, str, PushResult]],
) -> None:
    """Hand the items to the adapter (in the helper thread, heartbeating every push of the batch) and turn what
    became of each into its outcome."""
    pushes = [meta[id(i)][0] for i in items]
    try:
        credential = target.reveal_credential()
        adapter = target.adapter()
        _supervise(pushes, lambda: adapter.push_many(items, parallel=max(1, target.max_concurrency)))
    except DeadlineExceeded as exc:
        for push in pushes:
            outcomes[push.pk] = functools.partial(_failed, push, str(exc), permanent=False, retry_after=None)
        return
    except crypto.DecryptionError as exc:
        for push in pushes:
            outcomes[push.pk] = functools.partial(_failed, push, str(exc), permanent=True, retry_after=None)
        return
    except AdapterError as exc:
        for item in items:
            push, _, secrets = meta[id(item)]
            outcomes[push.pk] = functools.partial(
                _failed, push, redact(str(exc), secrets), permanent=exc.permanent, retry_after=exc.retry_after
            )
        return
    except Exception as exc:
        log.exception("The batch of pushes %s failed unexpectedly", [p.pk for p in pushes])
        for item in items:
            push, _, secrets = meta[id(item)]
            message = redact(f"Unexpected error: {type(exc).__name__}: {exc}", secrets)
            outcomes[push.pk] = functools.partial(_failed, push, message, permanent=False, retry_after=None)
        return
    for item in items:
        push, fingerprint, secrets = meta[id(item)]
        secrets = [*secrets, credential]
        if item.error is not None:
            error = item.error
            outcomes[push.pk] = functools.partial(
                _failed,
                push,
                redact(str(error), secrets),
                permanent=error.permanent,
                retry_after=error.retry_after,
                detail=error.detail,
            )
        elif item.result is not None:
            successes.append((push, fingerprint, item.result))
        else:
            message = "The adapter reported nothing for this push; it will run again."
            outcomes[push.pk] = functools.partial(_failed, push, message, permanent=False, retry_after=None)


# --- heartbeat and deadline ------------------------------------------------------------------------------------
class _AdapterThread:
    """A helper thread, one per worker thread, that runs adapter calls so the worker thread can heartbeat and keep
    the deadline meanwhile. It lives from push to push, so the HTTP connections it pools are reused; one whose call
    was abandoned is retired (it ends after that call) and replaced."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self.retired = False
        threading.Thread(target=_serve, args=(self.jobs,), name="push-adapter", daemon=True).start()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self.jobs.put((future, fn))
        return future

    def retire(self) -> None:
        self.retired = True
        self.jobs.put(None)

    def __del__(self) -> None:  # the worker thread ended
        if not self.retired:
            self.jobs.put(None)


def _serve(jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]) -> None:
    try:
        while (job := jobs.get()) is not None:
            future, fn = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker thread
                future.set_exception(exc)
            finally:
                connection.close()  # adapters rarely touch the database; never keep a connection idle here
    finally:
        connection.close()


_local = threading.local()


def _adapter_thread() -> _AdapterThread:
    helper: _AdapterThread | None = getattr(_local, "adapter_thread", None)
    if helper is None or helper.retired:
        helper = _local.adapter_thread = _AdapterThread()
    return helper


def _supervise(pushes: list[Push], work: Callable[[], T]) -> T:
    """Run ``work`` in the helper thread; heartbeat every push of the batch while it runs; give up at the
    deadline."""
    helper = _adapter_thread()
    future = helper.submit(work)
    deadline = time.monotonic() + settings.PUSH_DEADLINE_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        wait([future], timeout=max(0.0, min(max(settings.PUSH_HEARTBEAT_SECONDS, 0.05), remaining)))
        if future.done():
            return future.result()
        if time.monotonic() >= deadline:
            helper.retire()
            raise DeadlineExceeded(
                f"The push did not finish within {settings.PUSH_DEADLINE_SECONDS:g} s; it was abandoned and will "
                "run again."
            )
        _heartbeat(pushes)


def _heartbeat(pushes: list[Push]) -> int:
    """Say the batch's pushes are alive, in one statement. Returns how many still hold their claim (a push taken
    over by another worker, or a database that did not answer, counts as lost here)."""
    claims = Q()
    for push in pushes:
        claims |= Q(pk=push.pk, attempts=push.attempts)
    try:
        alive = Push.objects.filter(claims, status=PushStatus.RUNNING).update(heartbeat_at=timezone.now())
    except _DB_ERRORS as exc:
        log.warning("Heartbeat of pushes %s failed: %s", [p.pk for p in pushes], exc)
        _reset_connection()
        return 0
    if alive < len(pushes):
        log.warning(
            "%d of pushes %s were taken over; their outcomes will be dropped",
            len(pushes) - alive,
            [p.pk for p in pushes],
        )
    return alive


# --- outcomes --------------------------------------------------------------------------------------------------
def _settle(push: Push, **changes: Any) -> bool:
    """Write the outcome only if this worker still holds the claim (running, same attempt)."""
    return Push.objects.filter(pk=push.pk, status=PushStatus.RUNNING, attempts=push.attempts).update(**changes) == 1


def _dropped(push: Push, outcome: str) -> Push:
    log.warning(
        "Push %s (attempt %d) %s, but another worker took it over meanwhile; this outcome is dropped",
        push.pk,
        push.attempts,
        outcome,
    )
    return push


# What a success changes on its delivery.
DELIVERED_FIELDS = (
    "status",
    "delivered_fingerprint",
    "delivered_remote_ts",
    "last_pushed_at",
    "last_error",
    "state",
    "updated_at",
)


def _succeeded_many(entries: list[tuple[Push, str, PushResult]]) -> list[Push]:
    """Record the successes of a batch in one transaction of five statements, however big the batch: lock the
    pushes this worker still holds (running, same attempt; id order), then their deliveries; one update per
    table; the audit events (one per push) in one insert. A delivery whose feed changed token meanwhile is pushed
    again."""
    now = timezone.now()
    by_pk = {push.pk: (push, fingerprint, result) for push, fingerprint, result in entries}
    fields = ["status", "finished_at", "heartbeat_at", "fingerprint", "remote_ts", "error", "detail"]

    def write() -> tuple[list[Push], list[Delivery]]:
        with transaction.atomic():
            attempts = dict(
                Push.objects.select_for_update(no_key=True)
                .filter(pk__in=list(by_pk), status=PushStatus.RUNNING)
                .order_by("pk")
                .values_list("pk", "attempts")
            )
            held = [by_pk[pk] for pk in sorted(by_pk) if attempts.get(pk) == by_pk[pk][0].attempts]
            if not held:
                return [], []
            rows = []
            for push, fingerprint, result in held:
                row = Push(pk=push.pk, status=PushStatus.SUCCEEDED, finished_at=now, heartbeat_at=None)
                row.fingerprint, row.remote_ts, row.error = fingerprint, result.remote_ts, ""
                row.detail = {**result.detail, "notes": result.notes}
                rows.append(row)
            update_rows(Push, rows, fields)
            deliveries = {
                d.pk: d
                for d in Delivery.objects.select_for_update(of=("self",), no_key=True)
                .select_related("feed__current_token", "target")
                .filter(pk__in=[push.delivery_id for push, _, _ in held])
                .order_by("pk")
            }
            stale = []
            events = []
            for (push, fingerprint, result), row in zip(held, rows, strict=True):
                delivery = deliveries[push.delivery_id]
                current = delivery.feed.fingerprint == fingerprint
                delivery.status = DeliveryStatus.DELIVERED if current else DeliveryStatus.STALE
                delivery.delivered_fingerprint, delivery.delivered_remote_ts = fingerprint, result.remote_ts
                delivery.last_pushed_at, delivery.last_error, delivery.updated_at = now, "", now
                delivery.state = {**delivery.state, **row.detail}
                if not current:
                    stale.append(delivery)
                events.append(
                    audit_event(
                        actor=push.requested_by or "system",
                        action="delivery.push",
                        obj=delivery,
                        detail={
                            "push": push.pk,
                            "fingerprint": fingerprint,
                            "remote_ts": result.remote_ts,
                            "notes": result.notes,
                            "attempts": push.attempts,
                        },
                    )
                )
            update_rows(Delivery, list(deliveries.values()), DELIVERED_FIELDS)
            audit_record_many(events)
            for (push, _, _), row in zip(held, rows, strict=True):
                for name in fields:
                    setattr(push, name, getattr(row, name))
            return [push for push, _, _ in held], stale

    written, stale = _db(write, what=f"outcomes of pushes {sorted(by_pk)}")
    kept = {push.pk for push in written}
    for push, _, _ in entries:
        if push.pk not in kept:
            _dropped(push, "succeeded")
    if stale:
        # The token changed while we pushed: push again with the new one (if this fails, the deliveries are stale
        # without a push, and the reconciler requests them).
        try:
            pushes_request(deliveries=stale, actor="system", reason="stale")
        except _DB_ERRORS:
            log.warning("Requesting the stale pushes of %s failed", [d.pk for d in stale], exc_info=True)
            _reset_connection()
    return [push for push, _, _ in entries]


def _failed(
    push: Push, message: str, *, permanent: bool, retry_after: float | None, detail: dict[str, Any] | None = None
) -> Push:
    now = timezone.now()
    retry = not permanent and push.attempts < settings.PUSH_MAX_ATTEMPTS
    delay = (
        backoff(
            push.attempts,
            base=settings.PUSH_BASE_BACKOFF_SECONDS,
            cap=settings.PUSH_MAX_BACKOFF_SECONDS,
            retry_after=retry_after,
        )
        if retry
        else 0.0
    )
    changes: dict[str, Any] = {"error": message, "heartbeat_at": None, "detail": {**push.detail, **(detail or {})}}
    if retry:
        changes.update(
            status=PushStatus.PENDING,
            dispatched_at=None,
            started_at=None,
            next_attempt_at=now + timedelta(seconds=delay),
        )
    else:
        changes.update(status=PushStatus.FAILED, finished_at=now)
    target_id = push.target_id

    def write() -> bool:
        with transaction.atomic():
            if not _settle(push, **changes):
                return False
            updates: dict[str, Any] = {}
            if detail:
                # What the failed attempt did achieve (e.g. per-project outcomes), so the next attempt and health
                # know.
                state = (
                    Delivery.objects.select_for_update(no_key=True)
                    .filter(pk=push.delivery_id)
                    .values_list("state", flat=True)
                    .first()
                )
                updates["state"] = {**(state or {}), **detail}
            if retry:
                updates["last_error"] = f"Attempt {push.attempts} failed, retrying in {delay:.0f}s: {message}"
                transaction.on_commit(functools.partial(_enqueue_dispatch, target_id, countdown=delay), robust=True)
            else:
                updates.update(status=DeliveryStatus.FAILED, last_error=message, updated_at=now)
                audit_record(
                    actor=push.requested_by or "system",
                    action="delivery.push",
                    obj=push.delivery,
                    outcome=AuditEvent.Outcome.FAILURE,
                    detail={"push": push.pk, "error": message, "attempts": push.attempts, "permanent": permanent},
                )
                signals.push_failed.send(sender=Push, push=push, error=message)
            Delivery.objects.filter(pk=push.delivery_id).update(**updates)
            return True

    if not _db(write, what=f"outcome of push {push.pk}"):
        return _dropped(push, "failed")
    for name, value in changes.items():
        setattr(push, name, value)
    return push


# --- recovery and coverage -------------------------------------------------------------------------------------
def pushes_reconcile() -> dict[str, int]:
    """Recovery and coverage at once (the scheduler runs them apart, at their own rates)."""
    return {**pushes_recover(), "coverage": pushes_cover()}


def pushes_recover() -> dict[str, int]:
    """Make sure nothing is lost: take over pushes whose worker stopped heartbeating, re-dispatch pushes the broker
    lost, request pushes for deliveries that are pending, pushing or stale without one, and dispatch every target
    with ready work. Cheap (a few queries, no platform call): it runs every ``PUSH_RECONCILE_EVERY_SECONDS``."""
    now = timezone.now()
    silent = now - PUSH_STUCK_AFTER
    stuck = _db(
        lambda: (
            Push.objects.filter(status=PushStatus.RUNNING)
            .filter(Q(heartbeat_at__lt=silent) | Q(heartbeat_at__isnull=True, started_at__lt=silent))
            .update(
                status=PushStatus.PENDING,
                dispatched_at=None,
                started_at=None,
                heartbeat_at=None,
                next_attempt_at=None,
                error="The worker running this push stopped; it will run again.",
            )
        ),
        what="takeover of stuck pushes",
    )
    lost = _db(
        lambda: Push.objects.filter(
            status=PushStatus.PENDING, started_at__isnull=True, dispatched_at__lt=now - DISPATCH_LOST_AFTER
        ).update(dispatched_at=None),
        what="re-dispatch of lost pushes",
    )
    orphaned = list(
        Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.STALE, DeliveryStatus.PUSHING])
        .exclude(pushes__status__in=[PushStatus.PENDING, PushStatus.RUNNING])
        .order_by("pk")[:1000]
    )
    if orphaned:
        pushes_request(deliveries=orphaned, actor="system", reason="reconcile")
    ready_targets = list(
        Push.objects.filter(status=PushStatus.PENDING, dispatched_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("target_id")
        .values_list("target_id", flat=True)
        .distinct()
    )
    dispatched, _ = _dispatch_many(ready_targets)
    return {"stuck": stuck, "lost": lost, "requested": len(orphaned), "dispatched": dispatched}


def pushes_cover() -> int:
    """Fan out one coverage task per target with delivered deliveries. Returns how many were enqueued."""
    from targets.tasks import cover_target

    target_ids = list(
        Delivery.objects.filter(status=DeliveryStatus.DELIVERED)
        .order_by("target_id")
        .values_list("target_id", flat=True)
        .distinct()
    )
    for target_id in target_ids:
        cover_target.delay(target_id)
    return len(target_ids)


def push_cover_target(*, target_id: int) -> int:
    """Ask the target's adapter, in one call, which of its delivered deliveries need a push again (a project
    created since, a cluster now terminated) and request those. Returns how many were requested."""
    target = Target.objects.filter(pk=target_id).first()
    if target is None:
        return 0
    deliveries = list(
        Delivery.objects.filter(target_id=target_id, status=DeliveryStatus.DELIVERED)
        .select_related("feed__current_token")
        .order_by("pk")
    )
    if not deliveries:
        return 0
    for delivery in deliveries:
        delivery.target = target
    try:
        wanted = set(target.adapter().deliveries_needing_push(deliveries))
    except AdapterError as exc:
        log.info("Coverage check of target %s skipped: %s", target_id, exc)
        return 0
    due = [d for d in deliveries if d.pk in wanted]
    if due:
        pushes_request(deliveries=due, actor="system", reason="coverage")
    return len(due)
