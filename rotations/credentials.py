"""Rotating the credential a target signs in with, for adapters that can mint their own (a Databricks PAT): the
same lease, step record and resumability as a feed's rotation (:mod:`rotations.engine`), with these steps:

- **mint** asks the platform, as the target's identity, for a new credential named after the rotation, valid the
  target's ``credential_lifetime_days``. An earlier attempt that died after the platform minted is found by its
  name and revoked first. The new secret waits encrypted on the rotation row.
- **test** signs in with the new credential (not yet stored on the target). A refused one ends the rotation and is
  revoked at once; a platform that cannot be reached is tried again.
- **switch** makes it the target's credential (one transaction: credential, fingerprint, expiry, the platform's id
  of it, the next rotation) and wipes it from the rotation row.
- **verify** signs in with what the target now holds. The rotation is ``completed``.
- **revoke** deletes the previous credential at the platform, by the id Feedkeeper recorded when it minted it, once
  ``CREDENTIAL_REVOKE_GRACE_SECONDS`` passed and no push or check that started with the old one still runs.
  A credential an admin pasted has no id Feedkeeper knows (the platform does not say which token a call used): the
  step asks the admin to revoke it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core import crypto
from rotations import signals
from rotations.engine import (
    ACTOR,
    NEXT,
    PROVIDER_ATTEMPTS,
    STOP,
    Outcome,
    _begin,
    _fail,
    _iso,
    _move,
    _record,
    _retry_later,
    _step,
)
from rotations.models import Phase, Rotation, Status, StepStatus
from targets.adapters import AdapterError
from targets.models import Push, PushStatus, Target, TargetCheck

log = logging.getLogger(__name__)


def step_mint(rotation: Rotation) -> Outcome:
    if rotation.pending_credential or rotation.new_credential_id:
        _move(rotation, Phase.TEST)
        return NEXT
    target: Target = rotation.of_target
    step = _begin(rotation, Phase.MINT)
    adapter = target.adapter()
    if not adapter.rotates_credential(target.auth_type):
        return _fail(rotation, step, f"A {target.get_kind_display()} target using {target.auth_type} cannot mint.")
    description = rotation.mint_description
    try:
        if step.attempts > 1:
            # An earlier attempt may have minted a credential whose answer never arrived: revoke it.
            for credential_id in adapter.credential_find(description):
                adapter.credential_revoke(credential_id)
                log.warning(
                    "Rotation %s: revoked credential %s left by an interrupted mint.", rotation.pk, credential_id
                )
        minted = adapter.credential_mint(lifetime_seconds=target.credential_lifetime_days * 86_400, comment=description)
    except AdapterError as exc:
        if not exc.permanent and step.attempts < PROVIDER_ATTEMPTS:
            return _retry_later(step, f"The platform failed: {exc}.", exc.retry_after)
        return _fail(rotation, step, f"Could not mint a new credential: {exc}")
    fingerprint = crypto.fingerprint(minted.secret)
    with transaction.atomic():
        _record(
            step,
            StepStatus.DONE,
            f"Minted a credential (fingerprint {fingerprint}) at the platform"
            + (f", valid until {minted.expires_at:%Y-%m-%d %H:%M} UTC." if minted.expires_at else "."),
        )
        rotation.pending_credential = crypto.encrypt(minted.secret)
        Rotation.objects.filter(pk=rotation.pk).update(pending_credential=rotation.pending_credential)
        _move(
            rotation,
            Phase.TEST,
            new_fingerprint=fingerprint,
            new_credential_id=minted.credential_id,
            new_credential_expires_at=minted.expires_at,
        )
        audit_record(
            actor=ACTOR,
            action="rotation.mint",
            obj=rotation,
            detail={"target": target.pk, "fingerprint": fingerprint, "expires_at": _iso(minted.expires_at)},
            secrets=[minted.secret],
        )
    return NEXT


def step_test(rotation: Rotation) -> Outcome:
    step = _begin(rotation, Phase.TEST)
    if not rotation.pending_credential:
        return _fail(rotation, step, "The new credential is gone.")
    secret = crypto.decrypt(rotation.pending_credential)
    try:
        detail = rotation.of_target.adapter().credential_test(secret)
    except AdapterError as exc:
        if not exc.permanent and step.attempts < settings.ROTATION_TEST_ATTEMPTS:
            return _retry_later(step, f"The platform could not be asked: {exc}.", exc.retry_after)
        outcome = _fail(rotation, step, f"The platform refuses the new credential: {exc} Nothing was switched.")
        _discard_new(rotation)
        return outcome
    with transaction.atomic():
        _record(step, StepStatus.DONE, f"Credential {rotation.new_fingerprint}: {detail}")
        _move(rotation, Phase.SWITCH)
    return NEXT


def _discard_new(rotation: Rotation) -> None:
    """A minted credential that will never be used is revoked at once, and wiped from the rotation."""
    detail = "discarded"
    if rotation.new_credential_id:
        try:
            detail = rotation.of_target.adapter().credential_revoke(rotation.new_credential_id)
        except AdapterError as exc:
            detail = f"Could not revoke it: {exc}"
    Rotation.objects.filter(pk=rotation.pk).update(pending_credential="")
    audit_record(
        actor=ACTOR,
        action="rotation.discard_new",
        obj=rotation,
        detail={"fingerprint": rotation.new_fingerprint, "detail": detail},
    )


def step_switch(rotation: Rotation) -> Outcome:
    step = _begin(rotation, Phase.SWITCH)
    now = timezone.now()
    with transaction.atomic():
        target = Target.objects.select_for_update().get(pk=rotation.of_target.pk)
        if target.credential_fingerprint != rotation.new_fingerprint:
            if not rotation.pending_credential:
                return _fail(rotation, step, "The new credential is gone.")
            if target.credential_fingerprint != rotation.previous_fingerprint:
                # Someone replaced the credential by hand since the rotation started: theirs stays.
                outcome = _fail(
                    rotation,
                    step,
                    f"The target's credential changed by hand ({target.credential_fingerprint}) while rotating; it "
                    "is kept and the minted one is revoked.",
                )
                _discard_new(rotation)
                return outcome
            previous_id = str((target.info or {}).get("credential_id") or "")
            target.set_credential(crypto.decrypt(rotation.pending_credential))
            target.credential_set_at = now
            target.credential_expires_at = rotation.new_credential_expires_at
            target.credential_expires_source = "platform" if rotation.new_credential_expires_at else ""
            target.info = {**(target.info or {}), "credential_id": rotation.new_credential_id}
            target.credential_next_rotation_at = target.compute_credential_next_rotation()
            target.save()
            rotation.previous_credential_id = previous_id
        from targets.hooks import credential_expiry_changed

        credential_expiry_changed(target)
        _record(
            step,
            StepStatus.DONE,
            f"The target signs in with the new credential (fingerprint {rotation.new_fingerprint}) now.",
        )
        _move(
            rotation,
            Phase.VERIFY,
            pending_credential="",
            previous_credential_id=rotation.previous_credential_id,
            verify_started_at=now,
        )
        audit_record(
            actor=ACTOR,
            action="target.credential_rotated",
            obj=target,
            detail={
                "rotation": rotation.pk,
                "credential_fingerprint": [rotation.previous_fingerprint, rotation.new_fingerprint],
                "credential_expires_at": _iso(target.credential_expires_at),
            },
        )
    return NEXT


def step_verify(rotation: Rotation) -> Outcome:
    step = _begin(rotation, Phase.VERIFY)
    target = Target.objects.get(pk=rotation.of_target.pk)
    try:
        detail = target.adapter().credential_test(target.reveal_credential())
    except AdapterError as exc:
        if not exc.permanent and step.attempts < settings.ROTATION_TEST_ATTEMPTS:
            return _retry_later(step, f"The platform could not be asked: {exc}.", exc.retry_after)
        return _fail(
            rotation,
            step,
            f"The target's new credential is refused: {exc} The previous one is not revoked: replace the "
            "credential by hand or retry.",
        )
    now = timezone.now()
    grace = timedelta(seconds=settings.CREDENTIAL_REVOKE_GRACE_SECONDS)
    with transaction.atomic():
        _record(step, StepStatus.DONE, detail)
        _move(rotation, Phase.REVOKE, status=Status.COMPLETED, completed_at=now, revoke_after=now + grace)
        _record(
            _step(rotation, Phase.REVOKE),
            StepStatus.WAITING,
            f"Not before {now + grace:%Y-%m-%d %H:%M} UTC, nor while work that started with it still runs.",
        )
        audit_record(
            actor=ACTOR,
            action="rotation.completed",
            obj=rotation,
            detail={
                "target": rotation.of_target.pk,
                "fingerprint": rotation.new_fingerprint,
                "previous_fingerprint": rotation.previous_fingerprint,
            },
        )
        signals.rotation_finished.send(sender=Rotation, rotation=rotation, status=Status.COMPLETED)
    return NEXT


def _still_using_previous(rotation: Rotation) -> int:
    """Pushes and checks of the target that started before the switch and still run (with the old credential)."""
    switched = rotation.verify_started_at or rotation.created_at
    pushes = Push.objects.filter(
        target_id=rotation.of_target.pk, status=PushStatus.RUNNING, started_at__lt=switched
    ).count()
    checks = TargetCheck.objects.filter(
        target_id=rotation.of_target.pk, status="running", started_at__lt=switched
    ).count()
    return pushes + checks


def step_revoke(rotation: Rotation) -> Outcome:
    now = timezone.now()
    step = _step(rotation, Phase.REVOKE)
    if rotation.revoke_after and now < rotation.revoke_after:
        return STOP  # the tick brings it back
    busy = _still_using_previous(rotation)
    if busy:
        _record(
            step, StepStatus.WAITING, f"{busy} push(es) or check(s) that started with the old credential still run."
        )
        Rotation.objects.filter(pk=rotation.pk).update(updated_at=now)
        return STOP
    step = _begin(rotation, Phase.REVOKE)
    if not rotation.previous_credential_id:
        with transaction.atomic():
            _record(
                step,
                StepStatus.MANUAL,
                f"Revoke the previous credential ({rotation.previous_fingerprint}) at the platform yourself: an admin "
                "entered it, and the platform does not say which of the identity's tokens it is. Later rotations "
                "revoke by themselves.",
            )
            _move(rotation, Phase.DONE, revoke_done=True, finished_at=now)
            audit_record(
                actor=ACTOR,
                action="rotation.revoke_manual",
                obj=rotation,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"fingerprint": rotation.previous_fingerprint},
            )
        return STOP
    try:
        detail = rotation.of_target.adapter().credential_revoke(rotation.previous_credential_id)
    except AdapterError as exc:
        if not exc.permanent and step.attempts < PROVIDER_ATTEMPTS:
            return _retry_later(step, f"The platform failed: {exc}.", exc.retry_after)
        with transaction.atomic():
            _record(step, StepStatus.FAILED, f"Could not revoke the previous credential: {exc}")
            audit_record(
                actor=ACTOR,
                action="rotation.revoke_failed",
                obj=rotation,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"fingerprint": rotation.previous_fingerprint, "error": str(exc)},
            )
        return STOP
    with transaction.atomic():
        _record(step, StepStatus.DONE, detail)
        _move(rotation, Phase.DONE, revoke_done=True, finished_at=now, previous_revoked_at=now)
        audit_record(
            actor=ACTOR,
            action="rotation.revoke",
            obj=rotation,
            detail={"fingerprint": rotation.previous_fingerprint, "detail": detail},
        )
    return STOP


STEPS: dict[str, Callable[[Rotation], Outcome]] = {
    Phase.MINT: step_mint,
    Phase.TEST: step_test,
    Phase.SWITCH: step_switch,
    Phase.VERIFY: step_verify,
    Phase.REVOKE: step_revoke,
}
