"""Pushing deliveries: request, dispatch under a per-target cap, run, retry, reconcile.

The database is the source of truth. A push is a row; it is requested (``pending``), dispatched to the broker when
its target has a free slot (``dispatched_at``), claimed by exactly one worker (``running``, by a conditional
update) and ends ``succeeded`` or ``failed``. Transient failures go back to ``pending`` with a backoff; the
reconciler re-dispatches anything a dead worker or a restarted broker lost. Tasks carry ids only.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.redaction import redact
from targets.adapters import AdapterError, PushResult
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target

log = logging.getLogger(__name__)

PUSH_STUCK_AFTER = timedelta(seconds=settings.PUSH_STUCK_AFTER_SECONDS)
DISPATCH_LOST_AFTER = timedelta(seconds=settings.PUSH_DISPATCH_LOST_AFTER_SECONDS)


def push_request(*, delivery: Delivery, actor: Any, restart_consent: bool = False, reason: str = "manual") -> Push:
    """Ask for ``delivery`` to be pushed. A delivery has at most one waiting push: asking again returns it
    (adding restart consent if given now). The push is dispatched once this transaction commits."""
    return pushes_request(deliveries=[delivery], actor=actor, restart_consent=restart_consent, reason=reason)[0]


def pushes_request(
    *, deliveries: Iterable[Delivery], actor: Any, restart_consent: bool = False, reason: str = "manual"
) -> list[Push]:
    """Request a push of each delivery, in one transaction and a constant number of queries (a "push all" over
    thousands of deliveries must not run thousands of statements in the operator's request). Returns one push per
    delivery, in order; each target is dispatched once, on commit."""
    deliveries = list(deliveries)
    if not deliveries:
        return []
    user = actor if getattr(actor, "is_authenticated", False) else None
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        waiting: dict[int, Push] = {}
        for push in (
            Push.objects.select_for_update()
            .filter(delivery_id__in=ids, status=PushStatus.PENDING, started_at__isnull=True)
            .order_by("-id")
        ):
            waiting[push.delivery_id] = push  # the oldest wins
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
        pushes = [waiting.get(d.pk) or created[d.pk] for d in deliveries]
        if user is not None:
            detail = {"pushes": [p.pk for p in pushes][:500], "restart_consent": restart_consent, "count": len(pushes)}
            if len(deliveries) == 1:
                audit_record(actor=user, action="delivery.push_requested", obj=deliveries[0], detail=detail)
            else:
                audit_record(
                    actor=user,
                    action="delivery.push_requested",
                    object_type="delivery",
                    object_repr=f"{len(deliveries)} deliveries",
                    detail={**detail, "deliveries": ids[:500]},
                )
        for target_id in sorted({d.target_id for d in deliveries}):
            transaction.on_commit(functools.partial(_enqueue_dispatch, target_id))
    return pushes


def _enqueue_dispatch(target_id: int, countdown: float | None = None) -> None:
    from targets.tasks import dispatch_pushes

    if countdown:
        dispatch_pushes.apply_async((target_id,), countdown=countdown)
    else:
        dispatch_pushes.delay(target_id)


def push_dispatch(*, target_id: int) -> int:
    """Send ready pushes of one target to the broker, never more in flight than ``Target.max_concurrency``.
    Returns how many were sent."""
    sent, _ = _dispatch(target_id, take_one=False)
    return sent


def _dispatch(target_id: int, *, take_one: bool) -> tuple[int, int | None]:
    """Hand out the target's free slots to ready pushes. Dispatchers of one target are serialised by a row lock
    on it, so the cap holds. With ``take_one`` the caller (a worker that just freed a slot) keeps the first push to
    run itself instead of sending it through the broker. Returns (how many were sent, the id kept)."""
    from targets.tasks import run_push

    now = timezone.now()
    with transaction.atomic():
        target = Target.objects.select_for_update().filter(pk=target_id).first()
        if target is None:
            return 0, None
        mine = Push.objects.filter(target_id=target_id)
        inflight = mine.filter(
            Q(status=PushStatus.RUNNING) | Q(status=PushStatus.PENDING, dispatched_at__isnull=False)
        ).count()
        free = target.max_concurrency - inflight
        if free <= 0:
            return 0, None
        ready = list(
            mine.filter(status=PushStatus.PENDING, dispatched_at__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("created_at", "id")
            .values_list("pk", "delivery_id")[:free]
        )
        if not ready:
            return 0, None
        Push.objects.filter(pk__in=[pk for pk, _ in ready]).update(dispatched_at=now)
        Delivery.objects.filter(pk__in=[d for _, d in ready]).update(status=DeliveryStatus.PUSHING)
        kept = ready.pop(0)[0] if take_one else None
        send = [pk for pk, _ in ready]
        for pk in send:
            transaction.on_commit(functools.partial(run_push.delay, pk))
    return len(send), kept


def push_run(*, push_id: int) -> Push | None:
    """Run a dispatched push: claim it, push the feed's current credentialed URL, verify, record the outcome. Then
    keep the freed slot busy: run the target's next ready push in the same task (no broker round trip) until
    there is none. Returns the first push, or None when it was not claimable (done, or taken by another worker)."""
    first: Push | None = None
    current: int | None = push_id
    while current is not None:
        push = _claim(current)
        if push is None:
            return first
        done = _run_claimed(push)
        first = first or done
        _, current = _dispatch(push.target_id, take_one=True)
    return first


def _claim(push_id: int) -> Push | None:
    now = timezone.now()
    claimed = Push.objects.filter(pk=push_id, status=PushStatus.PENDING, dispatched_at__isnull=False).update(
        status=PushStatus.RUNNING, started_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    return Push.objects.select_related("delivery__feed__current_token", "target").filter(pk=push_id).first()


def _run_claimed(push: Push) -> Push:
    delivery, target = push.delivery, push.target
    feed = delivery.feed
    secrets: list[str] = []
    try:
        if feed.current_token is None:
            raise AdapterError("The feed has no token to deliver.", permanent=True)
        token = feed.current_token.reveal()
        value = feed.credentialed_url()
        secrets = [token, value, target.reveal_credential()]
        fingerprint = feed.current_token.fingerprint
        adapter = target.adapter()
        result = adapter.push(delivery, value, restart_consent=push.restart_consent)
        result = adapter.verify(delivery, result)
    except AdapterError as exc:
        return _failed(
            push, redact(str(exc), secrets), permanent=exc.permanent, retry_after=exc.retry_after, detail=exc.detail
        )
    except Exception as exc:
        log.exception("Push %s failed unexpectedly", push.pk)
        message = redact(f"Unexpected error: {type(exc).__name__}: {exc}", secrets)
        return _failed(push, message, permanent=False, retry_after=None)
    return _succeeded(push, fingerprint, result)


def _succeeded(push: Push, fingerprint: str, result: PushResult) -> Push:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("feed__current_token")
            .get(pk=push.delivery_id)
        )
        current = delivery.feed.fingerprint == fingerprint
        push.status, push.finished_at, push.fingerprint = PushStatus.SUCCEEDED, now, fingerprint
        push.remote_ts, push.error = result.remote_ts, ""
        push.detail = {**result.detail, "notes": result.notes}
        push.save(update_fields=["status", "finished_at", "fingerprint", "remote_ts", "error", "detail"])
        delivery.status = DeliveryStatus.DELIVERED if current else DeliveryStatus.STALE
        delivery.delivered_fingerprint, delivery.delivered_remote_ts = fingerprint, result.remote_ts
        delivery.last_pushed_at, delivery.last_error = now, ""
        delivery.state = {**delivery.state, **result.detail, "notes": result.notes}
        delivery.save(
            update_fields=[
                "status",
                "delivered_fingerprint",
                "delivered_remote_ts",
                "last_pushed_at",
                "last_error",
                "state",
                "updated_at",
            ]
        )
        audit_record(
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
        if not current:
            # The token changed while we pushed: push again with the new one.
            push_request(delivery=delivery, actor="system", reason="stale")
    return push


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, settings.PUSH_MAX_BACKOFF_SECONDS) + random.uniform(0, 0.5)
    base = min(settings.PUSH_MAX_BACKOFF_SECONDS, settings.PUSH_BASE_BACKOFF_SECONDS * 2 ** (attempt - 1))
    return random.uniform(base / 2, base)


def _failed(
    push: Push, message: str, *, permanent: bool, retry_after: float | None, detail: dict[str, Any] | None = None
) -> Push:
    now = timezone.now()
    retry = not permanent and push.attempts < settings.PUSH_MAX_ATTEMPTS
    with transaction.atomic():
        if detail:
            # What the failed attempt did achieve (e.g. per-project outcomes), so the next attempt and health know.
            state = Delivery.objects.select_for_update().filter(pk=push.delivery_id).values_list("state", flat=True)
            Delivery.objects.filter(pk=push.delivery_id).update(state={**(state.first() or {}), **detail})
            push.detail = {**push.detail, **detail}
            push.save(update_fields=["detail"])
        if retry:
            delay = _backoff(push.attempts, retry_after)
            push.status, push.dispatched_at, push.started_at = PushStatus.PENDING, None, None
            push.next_attempt_at, push.error = now + timedelta(seconds=delay), message
            push.save(update_fields=["status", "dispatched_at", "started_at", "next_attempt_at", "error"])
            Delivery.objects.filter(pk=push.delivery_id).update(
                last_error=f"Attempt {push.attempts} failed, retrying in {delay:.0f}s: {message}"
            )
            target_id = push.target_id
            transaction.on_commit(lambda: _enqueue_dispatch(target_id, countdown=delay))
        else:
            push.status, push.finished_at, push.error = PushStatus.FAILED, now, message
            push.save(update_fields=["status", "finished_at", "error"])
            Delivery.objects.filter(pk=push.delivery_id).update(
                status=DeliveryStatus.FAILED, last_error=message, updated_at=now
            )
            audit_record(
                actor=push.requested_by or "system",
                action="delivery.push",
                obj=push.delivery,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"push": push.pk, "error": message, "attempts": push.attempts, "permanent": permanent},
            )
    return push


def pushes_reconcile() -> dict[str, int]:
    """Make sure nothing is lost: reset pushes whose worker died or whose broker message vanished, request pushes
    for deliveries that are pending or stale without one, and dispatch every target with ready work."""
    now = timezone.now()
    stuck = Push.objects.filter(status=PushStatus.RUNNING, started_at__lt=now - PUSH_STUCK_AFTER).update(
        status=PushStatus.PENDING,
        dispatched_at=None,
        started_at=None,
        error="The worker running this push stopped; it will run again.",
    )
    lost = Push.objects.filter(
        status=PushStatus.PENDING, started_at__isnull=True, dispatched_at__lt=now - DISPATCH_LOST_AFTER
    ).update(dispatched_at=None)
    orphaned = (
        Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.STALE, DeliveryStatus.PUSHING])
        .exclude(pushes__status__in=[PushStatus.PENDING, PushStatus.RUNNING])
        .select_related("target")
    )
    requested = 0
    for delivery in orphaned[:1000]:
        push_request(delivery=delivery, actor="system", reason="reconcile")
        requested += 1
    coverage = 0
    for delivery in Delivery.objects.filter(status=DeliveryStatus.DELIVERED).select_related("target", "feed"):
        try:
            if delivery.target.adapter().needs_push(delivery):
                push_request(delivery=delivery, actor="system", reason="coverage")
                coverage += 1
        except AdapterError as exc:
            log.info("Coverage check of delivery %s skipped: %s", delivery.pk, exc)
    dispatched = 0
    ready_targets = (
        Push.objects.filter(status=PushStatus.PENDING, dispatched_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("target_id", flat=True)
        .distinct()
    )
    for target_id in list(ready_targets):
        dispatched += push_dispatch(target_id=target_id)
    return {"stuck": stuck, "lost": lost, "requested": requested, "coverage": coverage, "dispatched": dispatched}
