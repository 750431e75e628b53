"""Workflows of a target's own credential rotation (a Databricks PAT minting its successor): start one (by hand or
on the schedule), retry a failed one. The steps are in :mod:`rotations.credentials`; each workflow is atomic with
its audit event, and the work runs on a worker after the transaction commits."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core import checks
from rotations.models import CREDENTIAL_STEP_ORDER, Phase, Rotation, RotationStep, Status, StepStatus, Trigger
from rotations.services import _actor_name
from targets.models import Target

log = logging.getLogger(__name__)

# After a scheduled rotation failed, the scheduler waits this long before it tries that target again.
RETRY_FAILED_AFTER = timedelta(hours=6)


def _enqueue(rotation: Rotation) -> None:
    from rotations.tasks import advance_rotation

    rotation_id = rotation.pk
    transaction.on_commit(lambda: advance_rotation.delay(rotation_id))


def _refuse_running(target: Target) -> None:
    running = Rotation.objects.filter(target=target, status=Status.RUNNING).first()
    if running is not None:
        raise ValidationError(
            {
                "non_field_errors": (
                    f"Rotation {running.pk} of this target's credential is running (started "
                    f"{running.created_at:%Y-%m-%d %H:%M} UTC, at step {running.phase}): wait for it to end."
                )
            }
        )


def credential_rotation_request(*, actor: Any, target: Target, trigger: str = Trigger.MANUAL) -> Rotation:
    """Start replacing ``target``'s credential with one it mints itself. Raises ``ValidationError`` (nothing
    changes) when its adapter cannot mint one or a rotation of it is running."""
    try:
        with transaction.atomic():
            locked = Target.objects.select_for_update().get(pk=target.pk)
            _refuse_running(locked)
            cls = locked.adapter_class
            if not cls.rotates_credential(locked.auth_type):
                raise ValidationError(
                    {
                        "non_field_errors": (
                            f"A {cls.label} target using {locked.auth_type} cannot mint its own credential: replace "
                            "it by hand."
                        )
                    }
                )
            rotation = Rotation.objects.create(
                target=locked,
                trigger=trigger,
                previous_fingerprint=locked.credential_fingerprint,
                requested_by=checks.requester(actor),
                requested_by_name=_actor_name(actor),
            )
            RotationStep.objects.bulk_create(
                [RotationStep(rotation=rotation, name=name) for name in CREDENTIAL_STEP_ORDER]
            )
            audit_record(
                actor=actor,
                action="rotation.start",
                obj=rotation,
                detail={
                    "target": locked.pk,
                    "trigger": rotation.trigger,
                    "previous_fingerprint": rotation.previous_fingerprint,
                    "lifetime_days": locked.credential_lifetime_days,
                },
            )
            _enqueue(rotation)
            return rotation
    except IntegrityError:
        _refuse_running(target)  # another request started one between our check and our insert
        raise


@transaction.atomic
def credential_rotation_retry(*, actor: Any, rotation: Rotation) -> Rotation:
    """Take a failed credential rotation up again: from a fresh mint when nothing was switched, from verify when
    the switch happened; or run a completed rotation's failed revocation again."""
    rotation = Rotation.objects.select_for_update(of=("self",)).select_related("target").get(pk=rotation.pk)
    revoke = rotation.steps.filter(name=Phase.REVOKE).first()
    if rotation.status == Status.COMPLETED and revoke is not None and revoke.status == StepStatus.FAILED:
        phase = Phase.REVOKE
    elif rotation.status != Status.FAILED:
        raise ValidationError(
            {"non_field_errors": f"Only a failed rotation can be retried; this one is {rotation.status}."}
        )
    else:
        _refuse_running(rotation.of_target)
        switched = rotation.of_target.credential_fingerprint == rotation.new_fingerprint and rotation.new_fingerprint
        phase = Phase.VERIFY if switched else Phase.MINT
        if phase == Phase.MINT:
            rotation.new_fingerprint = rotation.new_credential_id = rotation.pending_credential = ""
            rotation.previous_fingerprint = rotation.of_target.credential_fingerprint
    names = [str(p) for p in CREDENTIAL_STEP_ORDER]
    RotationStep.objects.filter(rotation=rotation, name__in=names[names.index(phase) :]).update(
        status=StepStatus.PENDING, attempts=0, detail=""
    )
    if phase != Phase.REVOKE:
        rotation.status = Status.RUNNING
        rotation.error = ""
        rotation.finished_at = None
    rotation.phase = phase
    rotation.revoke_done = False
    rotation.save()
    audit_record(actor=actor, action="rotation.retry", obj=rotation, detail={"step": phase})
    _enqueue(rotation)
    return rotation


def start_due_credentials(now: Any = None) -> list[Rotation]:
    """Start a scheduled rotation of every target credential that is due and not rotating."""
    now = now or timezone.now()
    started = []
    due = Target.objects.filter(credential_rotation_days__isnull=False, credential_next_rotation_at__lte=now)
    for target in due.exclude(credential_rotations__status=Status.RUNNING):
        recent_failure = Rotation.objects.filter(
            target=target, status=Status.FAILED, trigger=Trigger.SCHEDULE, finished_at__gte=now - RETRY_FAILED_AFTER
        ).exists()
        if recent_failure:
            continue
        try:
            started.append(credential_rotation_request(actor="scheduler", target=target, trigger=Trigger.SCHEDULE))
        except ValidationError as exc:
            log.info("Scheduled rotation of target %s's credential not started: %s", target.pk, exc)
    return started
