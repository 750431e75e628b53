"""The rotation's steps, run by a worker one after another until one has to wait.

:func:`advance` takes the rotation's lease (a conditional update: one worker at a time; a dead worker's lease runs
out after ``ROTATION_LEASE_SECONDS``), runs the step named by ``phase`` and moves on. Each step is idempotent and
records its outcome in its :class:`RotationStep` row before the phase moves, so a worker killed between steps (or
inside one) resumes without repeating what was done:

- **mint** asks the feed's connection for a token named after the rotation. If an earlier attempt died after the
  provider minted but before the token was stored, that token is found by its name and revoked first: no token
  Feedkeeper cannot name stays alive.
- **test** checks the new token against the feed (it must be ``ok``; unreachable is tried again). A refused token
  ends the rotation with nothing pushed, and a minted token is revoked at once.
- **push** makes the new token the one the feed delivers: every delivery turns stale and is pushed again.
- **verify** waits for every delivery to hold the new token; a delivery whose push failed for good fails the
  rotation, with the previous token still valid and each delivery's fingerprint recorded.
- **promote**: the new token is current, the old one previous. The rotation is ``completed``.
- **revoke** (after the feed's grace, at once in an emergency, and not while a cluster still runs with the old
  value unless ``ROTATION_MAX_GRACE_HOURS`` passed) revokes the previous token at its provider: by id when
  Feedkeeper minted it, by value where the provider allows it, else it reminds the admin.
- **rollback** (asked for after a failure) waits for the previous token to be back everywhere, then revokes the
  new token if Feedkeeper minted it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.backoff import backoff
from feeds.models import ConnectionStatus, Feed, TokenVersion
from feeds.probe import probe_index
from feeds.providers.base import ProviderError
from rotations import signals
from rotations.models import Phase, Rotation, RotationStep, Status, StepStatus

log = logging.getLogger(__name__)

ACTOR = "rotation"
MAX_STEPS_PER_RUN = 12
PROVIDER_ATTEMPTS = 5


@dataclass(frozen=True)
class Next:
    """Go on with the rotation's (new) phase."""


@dataclass(frozen=True)
class Wait:
    """Come back in ``seconds`` (None: the scheduler's tick brings it back)."""

    seconds: float | None


@dataclass(frozen=True)
class Stop:
    """The rotation ended or nothing is left to do now."""


Outcome = Next | Wait | Stop
NEXT, STOP = Next(), Stop()


# --- the lease -----------------------------------------------------------------------------------------------
def _take_lease(rotation_id: int) -> bool:
    now = timezone.now()
    return bool(
        Rotation.objects.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=rotation_id).update(
            lease_until=now + timedelta(seconds=settings.ROTATION_LEASE_SECONDS)
        )
    )


def _renew_lease(rotation_id: int) -> None:
    Rotation.objects.filter(pk=rotation_id).update(
        lease_until=timezone.now() + timedelta(seconds=settings.ROTATION_LEASE_SECONDS)
    )


def _release_lease(rotation_id: int) -> None:
    Rotation.objects.filter(pk=rotation_id).update(lease_until=None)


def advance(rotation_id: int) -> str | None:
    """Run the rotation's steps until one waits or it ends. Returns the phase it stopped at, or None when another
    worker holds it."""
    if not _take_lease(rotation_id):
        return None
    wait: float | None = None
    try:
        for _ in range(MAX_STEPS_PER_RUN):
            rotation = Rotation.objects.select_related("feed", "target", "new_token", "previous_token").get(
                pk=rotation_id
            )
            step = _steps_of(rotation).get(rotation.phase)
            if step is None or rotation.status in (Status.FAILED, Status.ROLLED_BACK):
                return str(rotation.phase)
            if rotation.status == Status.COMPLETED and rotation.phase != Phase.REVOKE:
                return str(rotation.phase)
            outcome = step(rotation)
            if isinstance(outcome, Wait):
                wait = outcome.seconds
                break
            if isinstance(outcome, Stop):
                break
            _renew_lease(rotation_id)
    finally:
        _release_lease(rotation_id)
    if wait is not None:
        from rotations.tasks import advance_rotation

        advance_rotation.apply_async(args=[rotation_id], countdown=wait)
    return str(Rotation.objects.values_list("phase", flat=True).get(pk=rotation_id))


def _steps_of(rotation: Rotation) -> dict[str, Callable[[Rotation], Outcome]]:
    """A feed's steps, or those of a target's own credential."""
    if rotation.is_credential:
        from rotations import credentials

        return credentials.STEPS
    return STEPS


# --- step bookkeeping ----------------------------------------------------------------------------------------
def _step(rotation: Rotation, name: str) -> RotationStep:
    step, _ = RotationStep.objects.get_or_create(rotation=rotation, name=name)
    return step


def _begin(rotation: Rotation, name: str) -> RotationStep:
    """Mark the step running and count the attempt (committed at once, so a crash leaves the trace)."""
    step = _step(rotation, name)
    step.attempts += 1
    step.status = StepStatus.RUNNING
    step.started_at = step.started_at or timezone.now()
    step.save(update_fields=["attempts", "status", "started_at", "updated_at"])
    return step


def _record(step: RotationStep, status: str, detail: str) -> None:
    step.status = status
    step.detail = detail[:2000]
    if status in (StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.MANUAL):
        step.finished_at = timezone.now()
    step.save(update_fields=["status", "detail", "finished_at", "updated_at"])


def _move(rotation: Rotation, phase: str, **changes: Any) -> None:
    for field, value in changes.items():
        setattr(rotation, field, value)
    rotation.phase = phase
    rotation.save(update_fields=["phase", "updated_at", *changes])


def _fail(rotation: Rotation, step: RotationStep, message: str, *, detail: dict[str, Any] | None = None) -> Outcome:
    """End the rotation as failed at ``step`` (the previous token stays the valid one)."""
    with transaction.atomic():
        _record(step, StepStatus.FAILED, message)
        rotation.status = Status.FAILED
        rotation.error = message[:2000]
        rotation.finished_at = timezone.now()
        rotation.save(update_fields=["status", "error", "finished_at", "deliveries", "updated_at"])
        audit_record(
            actor=ACTOR,
            action="rotation.failed",
            obj=rotation,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"step": step.name, "error": message, **(detail or {})},
        )
        signals.rotation_finished.send(sender=Rotation, rotation=rotation, status=Status.FAILED)
    return STOP


def _retry_later(step: RotationStep, message: str, hint: float | None = None) -> Outcome:
    _record(step, StepStatus.WAITING, f"{message} Trying again (attempt {step.attempts}).")
    return Wait(backoff(step.attempts, base=2.0, cap=120.0, retry_after=hint))


def _provider(rotation: Rotation) -> Any:
    connection = rotation.of_feed.rotation_connection
    if connection is None:
        return None
    return connection.provider(connection)


def _connection_failed(rotation: Rotation, exc: ProviderError) -> None:
    connection = rotation.of_feed.rotation_connection
    if connection is not None and getattr(exc, "needs_consent", False):
        type(connection).objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.NEEDS_CONSENT, status_detail=str(exc)[:2000], checked_at=timezone.now()
        )


# --- the steps -----------------------------------------------------------------------------------------------
def step_mint(rotation: Rotation) -> Outcome:
    if rotation.new_token_id is not None:
        _move(rotation, Phase.TEST)
        return NEXT
    provider = _provider(rotation)
    step = _begin(rotation, Phase.MINT)
    if provider is None:
        return _fail(rotation, step, "The feed has no rotation connection to mint a token with.")
    feed: Feed = rotation.of_feed
    description = rotation.mint_description
    try:
        if step.attempts > 1:
            # An earlier attempt may have minted a token whose answer never arrived: revoke it, unnamed tokens
            # must not stay alive.
            for token_id in provider.find_minted(description):
                provider.revoke(token_id=token_id)
                log.warning("Rotation %s: revoked token %s left by an interrupted mint.", rotation.pk, token_id)
        minted = provider.mint(feed, lifetime=timedelta(days=feed.token_lifetime_days), description=description)
    except ProviderError as exc:
        _connection_failed(rotation, exc)
        if not exc.permanent and step.attempts < PROVIDER_ATTEMPTS:
            return _retry_later(step, f"The provider failed: {exc}.", exc.retry_after)
        return _fail(rotation, step, f"Could not mint a token: {exc}")
    with transaction.atomic():
        version = TokenVersion.build(
            feed=feed, token=minted.token, expires_at=minted.expires_at, source=TokenVersion.Source.ROTATION
        )
        version.stage = TokenVersion.Stage.PENDING
        version.connection = feed.rotation_connection
        version.provider_token_id = minted.token_id
        version.save()
        _record(
            step,
            StepStatus.DONE,
            f"Minted a token (fingerprint {version.fingerprint}) with {feed.rotation_connection}"
            + (f", valid until {minted.expires_at:%Y-%m-%d %H:%M} UTC." if minted.expires_at else "."),
        )
        _move(rotation, Phase.TEST, new_token=version, new_fingerprint=version.fingerprint)
        audit_record(
            actor=ACTOR,
            action="rotation.mint",
            obj=rotation,
            detail={"fingerprint": version.fingerprint, "token_expires_at": _iso(minted.expires_at)},
            secrets=[minted.token],
        )
    return NEXT


def step_test(rotation: Rotation) -> Outcome:
    step = _begin(rotation, Phase.TEST)
    version = rotation.new_token
    if version is None:
        return _fail(rotation, step, "The new token is gone.")
    feed = rotation.of_feed
    username = feed.effective_username
    result = probe_index(feed.index_url, username, version.reveal())
    if result.status == "ok":
        with transaction.atomic():
            _record(
                step,
                StepStatus.DONE,
                f"The feed accepts the new token (fingerprint {version.fingerprint}): {result.detail}",
            )
            _move(rotation, Phase.PUSH)
        return NEXT
    if result.status in ("unreachable", "error") and step.attempts < settings.ROTATION_TEST_ATTEMPTS:
        return _retry_later(step, f"The feed could not be checked ({result.status}: {result.detail}).")
    message = f"The feed does not accept the new token ({result.status}: {result.detail}). Nothing was pushed."
    outcome = _fail(rotation, step, message)
    _discard_new(rotation)
    return outcome


def _discard_new(rotation: Rotation) -> None:
    """A new token that will never be used: discarded, and revoked at once when Feedkeeper minted it."""
    version = rotation.new_token
    if version is None:
        return
    detail = "discarded"
    if version.provider_token_id and version.connection is not None:
        try:
            detail = version.connection.provider(version.connection).revoke(token_id=version.provider_token_id)
            TokenVersion.objects.filter(pk=version.pk).update(
                stage=TokenVersion.Stage.REVOKED, revoked_at=timezone.now()
            )
        except ProviderError as exc:
            detail = f"Could not revoke it: {exc}"
            TokenVersion.objects.filter(pk=version.pk).update(stage=TokenVersion.Stage.DISCARDED)
    else:
        TokenVersion.objects.filter(pk=version.pk).update(stage=TokenVersion.Stage.DISCARDED)
    audit_record(
        actor=ACTOR,
        action="rotation.discard_new",
        obj=rotation,
        detail={"fingerprint": version.fingerprint, "detail": detail},
    )


def step_push(rotation: Rotation) -> Outcome:
    from feeds.services import feed_switch_token

    step = _begin(rotation, Phase.PUSH)
    if rotation.new_token is None:
        return _fail(rotation, step, "The new token is gone.")
    with transaction.atomic():
        feed_switch_token(
            actor=ACTOR, feed=rotation.of_feed, version=rotation.new_token, reason=f"rotation {rotation.pk}"
        )
        count = rotation.of_feed.deliveries.count()  # type: ignore[attr-defined]
        _record(
            step,
            StepStatus.DONE,
            f"Pushing the new token (fingerprint {rotation.new_fingerprint}) to {count} "
            f"deliver{'y' if count == 1 else 'ies'}."
            if count
            else "The feed has no deliveries: nothing to push.",
        )
        _move(rotation, Phase.VERIFY, verify_started_at=timezone.now())
    return NEXT


def _delivery_map(feed_id: int) -> dict[str, dict[str, Any]]:
    from targets.models import Delivery

    return {
        str(d["pk"]): {"status": d["status"], "fingerprint": d["delivered_fingerprint"], "error": d["last_error"][:300]}
        for d in Delivery.objects.filter(feed_id=feed_id).values("pk", "status", "delivered_fingerprint", "last_error")
    }


def _settled(deliveries: dict[str, dict[str, Any]], fingerprint: str) -> tuple[list[str], list[str]]:
    """(ids still on their way, ids that failed for good) for deliveries that should hold ``fingerprint``."""
    waiting: list[str] = []
    failed: list[str] = []
    for pk, d in deliveries.items():
        if d["status"] == "delivered" and d["fingerprint"] == fingerprint:
            continue
        (failed if d["status"] == "failed" else waiting).append(pk)
    return waiting, failed


def step_verify(rotation: Rotation) -> Outcome:
    step = _step(rotation, Phase.VERIFY)
    if step.status != StepStatus.WAITING:
        step = _begin(rotation, Phase.VERIFY)
    deliveries = _delivery_map(rotation.of_feed.pk)
    rotation.deliveries = deliveries
    waiting, failed = _settled(deliveries, rotation.new_fingerprint)
    total = len(deliveries)
    if failed:
        names = ", ".join(sorted(failed, key=int)[:20])
        return _fail(
            rotation,
            step,
            f"{len(failed)} of {total} deliveries failed to take the new token (deliveries {names}); the previous "
            "token is still valid. Retry, or roll back.",
            detail={"failed": failed},
        )
    if waiting:
        started = rotation.verify_started_at or rotation.created_at
        if timezone.now() - started > timedelta(seconds=settings.ROTATION_VERIFY_TIMEOUT_SECONDS):
            return _fail(
                rotation,
                step,
                f"{len(waiting)} of {total} deliveries did not take the new token in time; the previous token is "
                "still valid. Retry, or roll back.",
                detail={"waiting": waiting},
            )
        Rotation.objects.filter(pk=rotation.pk).update(deliveries=deliveries, updated_at=timezone.now())
        _record(step, StepStatus.WAITING, f"{total - len(waiting)} of {total} deliveries verified.")
        return Wait(settings.ROTATION_POLL_SECONDS)
    with transaction.atomic():
        _record(
            step,
            StepStatus.DONE,
            f"All {total} deliveries hold the new token (fingerprint {rotation.new_fingerprint}).",
        )
        _move(rotation, Phase.PROMOTE, deliveries=deliveries)
    return NEXT


def step_promote(rotation: Rotation) -> Outcome:
    step = _begin(rotation, Phase.PROMOTE)
    now = timezone.now()
    feed = rotation.of_feed
    with transaction.atomic():
        if rotation.new_token is not None:
            TokenVersion.objects.filter(pk=rotation.new_token.pk).update(
                stage=TokenVersion.Stage.CURRENT, promoted_at=now
            )
        if rotation.previous_token is not None:
            TokenVersion.objects.filter(pk=rotation.previous_token.pk).update(
                stage=TokenVersion.Stage.PREVIOUS, retired_at=now
            )
        grace = timedelta(0) if rotation.emergency else timedelta(hours=feed.rotation_grace_hours)
        feed.refresh_from_db()
        Feed.objects.filter(pk=feed.pk).update(next_rotation_at=feed.compute_next_rotation())
        _record(
            step,
            StepStatus.DONE,
            f"The new token (fingerprint {rotation.new_fingerprint}) is current; "
            f"{rotation.previous_fingerprint} is previous"
            + (
                " and is revoked now (emergency)."
                if rotation.emergency
                else f", kept valid for {feed.rotation_grace_hours} h."
            ),
        )
        _move(rotation, Phase.REVOKE, status=Status.COMPLETED, completed_at=now, revoke_after=now + grace)
        _record(_step(rotation, Phase.REVOKE), StepStatus.WAITING, f"Not before {now + grace:%Y-%m-%d %H:%M} UTC.")
        audit_record(
            actor=ACTOR,
            action="rotation.completed",
            obj=rotation,
            detail={
                "fingerprint": rotation.new_fingerprint,
                "previous_fingerprint": rotation.previous_fingerprint,
                "deliveries": len(rotation.deliveries),
                "emergency": rotation.emergency,
            },
        )
        signals.rotation_finished.send(sender=Rotation, rotation=rotation, status=Status.COMPLETED)
    return NEXT


def old_value_readers(rotation: Rotation) -> list[str]:
    """Places that still run with the previous token (Databricks clusters not restarted since the push), as
    each target's adapter sees them now."""
    from rotations.dependents import still_reading_old_value

    return still_reading_old_value(rotation.of_feed)


def step_revoke(rotation: Rotation) -> Outcome:
    now = timezone.now()
    step = _step(rotation, Phase.REVOKE)
    previous = rotation.previous_token
    if previous is None or previous.stage in (TokenVersion.Stage.REVOKED, TokenVersion.Stage.RETIRED):
        with transaction.atomic():
            _record(step, StepStatus.SKIPPED, "There is no previous token left to revoke.")
            _move(rotation, Phase.DONE, revoke_done=True, finished_at=now)
        return STOP
    if rotation.revoke_after and now < rotation.revoke_after:
        return STOP  # the tick brings it back when the grace is over
    step = _begin(rotation, Phase.REVOKE)
    readers: list[str] = []
    try:
        readers = old_value_readers(rotation)
    except Exception as exc:  # noqa: BLE001 - a platform that cannot answer must not block revocation for ever
        log.warning("Rotation %s: could not list what still reads the old value: %s", rotation.pk, exc)
    max_grace = timedelta(hours=settings.ROTATION_MAX_GRACE_HOURS)
    forced = False
    if readers and not rotation.emergency:
        if now - (rotation.completed_at or now) < max_grace:
            _record(
                step,
                StepStatus.WAITING,
                "Waiting for these to restart, they still run with the previous token: "
                + ", ".join(readers[:20])
                + ".",
            )
            Rotation.objects.filter(pk=rotation.pk).update(updated_at=now)
            return STOP
        forced = True
    provider_detail, status = _revoke_previous(rotation, previous)
    notes = []
    if readers:
        notes.append(
            (
                "Revoked although these still run with it (maximum grace passed): "
                if forced
                else "Still running with the revoked token, restart them: "
            )
            + ", ".join(readers[:20])
            + "."
        )
    with transaction.atomic():
        _record(step, status, " ".join([provider_detail, *notes]))
        if status == StepStatus.FAILED:
            audit_record(
                actor=ACTOR,
                action="rotation.revoke_failed",
                obj=rotation,
                outcome=AuditEvent.Outcome.FAILURE,
                detail={"fingerprint": rotation.previous_fingerprint, "error": provider_detail},
            )
            return STOP
        revoked = status == StepStatus.DONE
        TokenVersion.objects.filter(pk=previous.pk).update(
            stage=TokenVersion.Stage.REVOKED if revoked else TokenVersion.Stage.RETIRED,
            revoked_at=now if revoked else None,
        )
        _move(
            rotation,
            Phase.DONE,
            revoke_done=True,
            finished_at=now,
            previous_revoked_at=now if revoked else None,
        )
        audit_record(
            actor=ACTOR,
            action="rotation.revoke" if revoked else "rotation.revoke_manual",
            obj=rotation,
            outcome=AuditEvent.Outcome.SUCCESS if revoked and not readers else AuditEvent.Outcome.FAILURE,
            detail={
                "fingerprint": rotation.previous_fingerprint,
                "detail": provider_detail,
                "still_running": readers[:50],
                "forced": forced,
            },
        )
    return STOP


def _revoke_previous(rotation: Rotation, previous: TokenVersion) -> tuple[str, str]:
    """Revoke ``previous`` at its provider: ``(detail, step status)``."""
    connection = previous.connection or rotation.of_feed.rotation_connection
    if connection is None:
        return (
            f"Revoke the previous token ({previous.fingerprint}) at the feed's provider yourself: Feedkeeper has no "
            "connection that could.",
            StepStatus.MANUAL,
        )
    provider = connection.provider(connection)
    try:
        if previous.provider_token_id and previous.connection_id == connection.pk:
            detail = provider.revoke(token_id=previous.provider_token_id)
        elif provider.revokes_by_value:
            detail = provider.revoke(token=previous.reveal())
        else:
            return (
                f"Revoke the previous token ({previous.fingerprint}) in {connection.get_kind_display()} yourself: "
                "it was pasted, and this provider cannot revoke a token by its value.",
                StepStatus.MANUAL,
            )
    except ProviderError as exc:
        _connection_failed(rotation, exc)
        return f"Could not revoke the previous token: {exc}", StepStatus.FAILED
    return detail, StepStatus.DONE


def step_rollback(rotation: Rotation) -> Outcome:
    step = _step(rotation, Phase.ROLLBACK)
    deliveries = _delivery_map(rotation.of_feed.pk)
    waiting, failed = _settled(deliveries, rotation.previous_fingerprint)
    now = timezone.now()
    if failed:
        rotation.deliveries = deliveries  # _fail saves it with the outcome
        return _fail(
            rotation,
            step,
            f"The rollback failed at {len(failed)} deliveries: " + ", ".join(sorted(failed, key=int)[:20]) + ".",
        )
    if waiting:
        started = rotation.verify_started_at or now
        if now - started > timedelta(seconds=settings.ROTATION_VERIFY_TIMEOUT_SECONDS):
            rotation.deliveries = deliveries
            return _fail(rotation, step, f"{len(waiting)} deliveries did not take the previous token back in time.")
        Rotation.objects.filter(pk=rotation.pk).update(deliveries=deliveries, updated_at=now)
        _record(
            step,
            StepStatus.WAITING,
            f"{len(deliveries) - len(waiting)} of {len(deliveries)} deliveries hold the previous token again.",
        )
        return Wait(settings.ROTATION_POLL_SECONDS)
    _discard_new(rotation)
    with transaction.atomic():
        _record(
            step,
            StepStatus.DONE,
            f"All {len(deliveries)} deliveries hold the previous token (fingerprint "
            f"{rotation.previous_fingerprint}) again.",
        )
        _move(rotation, Phase.DONE, status=Status.ROLLED_BACK, finished_at=now, deliveries=deliveries)
        audit_record(
            actor=ACTOR,
            action="rotation.rolled_back",
            obj=rotation,
            detail={"fingerprint": rotation.previous_fingerprint, "discarded_fingerprint": rotation.new_fingerprint},
        )
    return STOP


STEPS: dict[str, Callable[[Rotation], Outcome]] = {
    Phase.MINT: step_mint,
    Phase.TEST: step_test,
    Phase.PUSH: step_push,
    Phase.VERIFY: step_verify,
    Phase.PROMOTE: step_promote,
    Phase.REVOKE: step_revoke,
    Phase.ROLLBACK: step_rollback,
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
