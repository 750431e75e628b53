"""Target health checks on the shared check lifecycle (:mod:`core.checks`): request one, run it on a worker
(resolve what the target is, run its adapter's health checks, record the worst result as the target's health),
sweep every target, and recover checks a dead worker left behind. Each result is audited in the transaction
that records it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from core import checks, crypto
from core.models import CheckRun
from targets import signals
from targets.adapters import AdapterError, HealthResult
from targets.adapters.base import in_background
from targets.health import Health, overall
from targets.hooks import credential_expiry_changed
from targets.models import Target, TargetCheck

log = logging.getLogger(__name__)

STUCK_CHECK_AFTER = timedelta(minutes=10)
REQUEUE_PENDING_AFTER = timedelta(minutes=2)


def target_check_request(*, actor: Any, target: Target) -> TargetCheck:
    """Record a pending health check of ``target`` and enqueue it once the row is committed. Returns the row to
    poll."""
    from targets.tasks import run_target_check

    return checks.request(TargetCheck, actor=actor, enqueue=run_target_check.delay, target=target)


def _run_adapter(check_id: int, target: Target) -> list[HealthResult]:
    """The adapter's health results; a failure to reach or describe the target is one failing result."""
    adapter = target.adapter()
    deliveries = list(target.deliveries.select_related("feed__current_token"))
    try:
        described = in_background(adapter.describe)  # meanwhile, the checks
        results = list(adapter.check_health(deliveries))
        info = described.result()
        if info and any(target.info.get(k) != v for k, v in info.items()):
            target.info = {**target.info, **info}
            Target.objects.filter(pk=target.pk).update(info=target.info)
        return results
    except AdapterError as exc:
        return [HealthResult("reach", Health.FAILING, str(exc))]
    except crypto.DecryptionError as exc:
        return [HealthResult("credential", Health.FAILING, str(exc))]
    except Exception as exc:
        log.exception("Health check %s failed unexpectedly", check_id)
        return [HealthResult("internal", Health.FAILING, f"Unexpected error: {type(exc).__name__}")]


def target_check_run(*, check_id: int) -> TargetCheck | None:
    """Run a target's health checks once (claimed race-safely), store the results, and set the target's health to
    the worst of them. Returns None when the check is not pending (someone else has it)."""
    if not checks.claim(check_id, CheckRun.Kind.TARGET):
        return None
    check = TargetCheck.objects.select_related("target").get(pk=check_id)
    target = check.target
    results = _run_adapter(check_id, target)
    status = overall(r.status for r in results)
    failing = [r for r in results if r.status != Health.OK]
    with transaction.atomic():
        checks.finish(
            check,
            status=status,
            detail="; ".join(f"{r.name}: {r.detail}" for r in failing),
            results=[r.as_dict() for r in results],
        )
        previous = Target.objects.select_for_update().values_list("health", flat=True).get(pk=target.pk)
        Target.objects.filter(pk=target.pk).update(health=status, health_checked_at=check.finished_at)
        signals.health_checked.send(sender=Target, target=target, previous=previous, current=status, check=check)
        _store_credential_expiry(target, results)
        audit_record(
            actor=check.requested_by or "scheduler",
            action="target.check",
            obj=target,
            outcome=HEALTH_OUTCOMES.get(status, AuditEvent.Outcome.FAILURE),
            detail={"check": check.pk, "status": status, "failing": [r.name for r in failing]},
        )
    return check


# A warning is not a failure: the audit history tells them apart.
HEALTH_OUTCOMES: dict[str, str] = {Health.OK: AuditEvent.Outcome.SUCCESS, Health.WARNING: AuditEvent.Outcome.WARNING}


def _store_credential_expiry(target: Target, results: list[HealthResult]) -> None:
    """The platform told when the target's credential expires: it is stored (over an entered date: the platform
    knows better), and the credential's next scheduled rotation follows it."""
    told = [r.credential_expires_at for r in results if r.credential_expires_at is not None]
    if not told:
        return
    expires = min(told)

    def stored() -> bool:
        return target.credential_expires_at == expires and target.credential_expires_source == "platform"

    if stored():
        return  # as loaded with the check: nothing to store (the usual case)
    target.refresh_from_db()
    if stored():
        return
    target.credential_expires_at = expires
    target.credential_expires_source = "platform"
    target.credential_next_rotation_at = target.compute_credential_next_rotation()
    target.save(update_fields=["credential_expires_at", "credential_expires_source", "credential_next_rotation_at"])
    credential_expiry_changed(target)


def targets_check_all(*, actor: Any = "scheduler") -> list[TargetCheck]:
    """Queue a health check of every target (the scheduled sweep): two inserts however many targets, then one
    task per check."""
    from targets.tasks import run_target_check

    return checks.request_many(
        TargetCheck,
        kind=CheckRun.Kind.TARGET,
        actor=actor,
        enqueue=run_target_check.delay,
        rows=[{"target_id": pk} for pk in Target.objects.order_by("pk").values_list("pk", flat=True)],
    )


def target_checks_reconcile() -> dict[str, int]:
    """Fail target checks stuck running (their worker died) and re-enqueue old pending ones. Returns
    ``{"failed_stuck": n, "requeued": m}``."""
    from targets.tasks import run_target_check

    return checks.reconcile(
        CheckRun.Kind.TARGET,
        stuck_after=STUCK_CHECK_AFTER,
        requeue_after=REQUEUE_PENDING_AFTER,
        enqueue=run_target_check.delay,
        stuck_status=Health.FAILING,
        stuck_detail="The worker running this check stopped.",
    ).as_dict()
