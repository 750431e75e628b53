"""Rotation workflows: start one (manual, scheduled or emergency), retry or roll back a failed one, what a rotation
would touch (dry run), and the scheduler's tick. The steps themselves are in :mod:`rotations.engine`.

Every workflow is atomic with its audit event; work runs on the worker after the transaction commits."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core import checks, crypto
from feeds.models import Connection, Feed, TokenVersion
from feeds.services import validate_expiry, validate_token
from rotations.models import STEP_ORDER, Phase, Rotation, RotationStep, Status, StepStatus, Trigger

log = logging.getLogger(__name__)

# After a scheduled rotation failed, the scheduler waits this long before it tries that feed again.
RETRY_FAILED_SCHEDULED_AFTER = timedelta(hours=6)


def _enqueue(rotation: Rotation, countdown: float | None = None) -> None:
    from rotations.tasks import advance_rotation

    rotation_id = rotation.pk
    transaction.on_commit(lambda: advance_rotation.apply_async(args=[rotation_id], countdown=countdown))


def running_rotation(feed: Feed) -> Rotation | None:
    return Rotation.objects.filter(feed=feed, status=Status.RUNNING).first()


def _refuse_running(feed: Feed) -> None:
    running = running_rotation(feed)
    if running is not None:
        raise ValidationError(
            {
                "non_field_errors": (
                    f"Rotation {running.pk} of this feed is running (started "
                    f"{running.created_at:%Y-%m-%d %H:%M} UTC, at step {running.phase}): wait for it to end."
                )
            }
        )


def rotation_request(
    *,
    actor: Any,
    feed: Feed,
    token: str | None = None,
    token_expires_at: Any = None,
    emergency: bool = False,
    trigger: str | None = None,
) -> Rotation:
    """Start rotating ``feed``'s token: with ``token`` (pasted) or minted by the feed's rotation connection.
    ``emergency``: the old token leaked, so it is revoked as soon as the new one is verified everywhere.
    Raises ``ValidationError`` (nothing changes) on bad input or when a rotation of the feed is running."""
    if token is not None and token != "":
        validate_token(token)
        validate_expiry(token_expires_at)
    elif token_expires_at is not None:
        raise ValidationError({"token_expires_at": "An expiry goes with a pasted token; a minted one has its own."})
    try:
        with transaction.atomic():
            locked = Feed.objects.select_for_update(of=("self",)).select_related("current_token").get(pk=feed.pk)
            _refuse_running(locked)
            if locked.current_token is None:
                raise ValidationError({"token": "The feed has no token to rotate: set its first token instead."})
            connection = locked.rotation_connection
            if not token:
                if connection is None:
                    raise ValidationError(
                        {"token": "This feed has no rotation connection: paste the new token (and its expiry)."}
                    )
                if locked.kind not in connection.provider.feed_kinds:
                    raise ValidationError(
                        {
                            "rotation_connection": (
                                f"A {connection.get_kind_display()} connection cannot mint this feed's tokens."
                            )
                        }
                    )
            elif crypto.fingerprint(token) == locked.current_token.fingerprint:
                raise ValidationError({"token": "This is the feed's current token: paste the new one."})
            user = checks.requester(actor)
            rotation = Rotation.objects.create(
                feed=locked,
                trigger=trigger or (Trigger.EMERGENCY if emergency else Trigger.MANUAL),
                emergency=emergency,
                previous_token=locked.current_token,
                previous_fingerprint=locked.current_token.fingerprint,
                requested_by=user,
                requested_by_name=_actor_name(actor),
            )
            RotationStep.objects.bulk_create([RotationStep(rotation=rotation, name=name) for name in STEP_ORDER])
            if token:
                version = TokenVersion.build(feed=locked, token=token, expires_at=token_expires_at, created_by=user)
                version.stage = TokenVersion.Stage.PENDING
                version.save()
                rotation.new_token = version
                rotation.new_fingerprint = version.fingerprint
                rotation.phase = Phase.TEST
                rotation.save(update_fields=["new_token", "new_fingerprint", "phase"])
                RotationStep.objects.filter(rotation=rotation, name=Phase.MINT).update(
                    status=StepStatus.SKIPPED,
                    detail=f"Pasted by {_actor_name(actor)}: fingerprint {version.fingerprint}.",
                    finished_at=timezone.now(),
                )
            audit_record(
                actor=actor,
                action="rotation.start",
                obj=rotation,
                detail={
                    "feed": locked.pk,
                    "trigger": rotation.trigger,
                    "emergency": emergency,
                    "source": "pasted" if token else f"minted by connection {connection}",
                    "previous_fingerprint": rotation.previous_fingerprint,
                    "new_fingerprint": rotation.new_fingerprint,
                },
                secrets=[token] if token else [],
            )
            _enqueue(rotation)
            return rotation
    except IntegrityError:
        # Another request started one between our check and our insert (the partial unique constraint).
        _refuse_running(feed)
        raise


def _actor_name(actor: Any) -> str:
    if getattr(actor, "is_authenticated", False):
        return str(actor.get_username())
    return str(actor or "system")


@transaction.atomic
def rotation_retry(*, actor: Any, rotation: Rotation) -> Rotation:
    """Take a failed rotation up again where it failed (pushes that failed are requested again), or run a
    completed rotation's failed revocation again."""
    if rotation.is_credential:
        from rotations.credential_services import credential_rotation_retry

        return credential_rotation_retry(actor=actor, rotation=rotation)
    rotation = Rotation.objects.select_for_update().get(pk=rotation.pk)
    revoke = rotation.steps.filter(name=Phase.REVOKE).first()
    if rotation.status == Status.COMPLETED and revoke is not None and revoke.status == StepStatus.FAILED:
        rotation.phase = Phase.REVOKE
        rotation.revoke_done = False
        rotation.save(update_fields=["phase", "revoke_done", "updated_at"])
        RotationStep.objects.filter(pk=revoke.pk).update(status=StepStatus.PENDING, attempts=0)
        audit_record(actor=actor, action="rotation.retry", obj=rotation, detail={"step": Phase.REVOKE})
        _enqueue(rotation)
        return rotation
    if rotation.status != Status.FAILED:
        raise ValidationError(
            {"non_field_errors": f"Only a failed rotation can be retried; this one is {rotation.status}."}
        )
    _refuse_running(rotation.of_feed)
    latest = Rotation.objects.filter(feed=rotation.of_feed).order_by("-created_at", "-id").first()
    if latest is not None and latest.pk != rotation.pk:
        raise ValidationError({"non_field_errors": "A later rotation of this feed exists: retry that one instead."})
    phase = rotation.phase
    if phase in (Phase.MINT, Phase.TEST):
        # Nothing was pushed. A minted token that failed its test was revoked: mint again; a pasted one is tested
        # again (the feed may have been fixed since).
        if rotation.new_token is not None and rotation.new_token.source == TokenVersion.Source.ROTATION:
            rotation.new_token = None
            rotation.new_fingerprint = ""
            phase = Phase.MINT
        else:
            phase = Phase.TEST if rotation.new_token is not None else Phase.MINT
    elif phase == Phase.ROLLBACK:
        raise ValidationError({"non_field_errors": "Its rollback failed: roll back again instead."})
    else:
        phase = Phase.VERIFY
        _push_again(actor, rotation)
    rotation.status = Status.RUNNING
    rotation.phase = phase
    rotation.error = ""
    rotation.finished_at = None
    rotation.verify_started_at = timezone.now() if phase == Phase.VERIFY else None
    rotation.save()
    RotationStep.objects.filter(rotation=rotation, name__in=_steps_from(phase)).update(
        status=StepStatus.PENDING, attempts=0, detail=""
    )
    audit_record(actor=actor, action="rotation.retry", obj=rotation, detail={"step": phase})
    _enqueue(rotation)
    return rotation


RESTART_PHASES = (Phase.VERIFY, Phase.PROMOTE, Phase.REVOKE, Phase.DONE)


@transaction.atomic
def rotation_restart_readers(*, actor: Any, rotation: Rotation) -> Rotation:
    """An operator consents to restarting what still runs with the feed's previous token (Databricks clusters that
    read the secret before the push): queued for a worker, which records what it restarted."""
    from rotations.tasks import restart_old_value_readers

    if rotation.is_credential:
        raise ValidationError({"non_field_errors": "A target's credential is not read by clusters."})
    if rotation.status == Status.ROLLED_BACK or rotation.phase not in RESTART_PHASES:
        raise ValidationError(
            {"non_field_errors": "Restarts help once the new token is pushed: this rotation has not pushed it."}
        )
    audit_record(actor=actor, action="rotation.restart_requested", obj=rotation, detail={"consent": True})
    rotation_id, user_id = rotation.pk, getattr(checks.requester(actor), "pk", None)
    transaction.on_commit(lambda: restart_old_value_readers.delay(rotation_id, user_id))
    return rotation


def rotation_restart_run(*, rotation_id: int, user_id: int | None) -> list[str]:
    """The worker's part of :func:`rotation_restart_readers`: restart, and record each outcome."""
    from django.contrib.auth import get_user_model

    from rotations.dependents import restart_old_value_readers

    rotation = Rotation.objects.select_related("feed").get(pk=rotation_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    done = restart_old_value_readers(rotation.of_feed)
    failed = [line for line in done if "could not" in line]
    audit_record(
        actor=user or "rotation",
        action="rotation.restart_readers",
        obj=rotation,
        outcome=AuditEvent.Outcome.FAILURE if failed else AuditEvent.Outcome.SUCCESS,
        detail={"results": done[:100] or ["nothing still ran with the previous token"]},
    )
    return done


def _steps_from(phase: str) -> list[str]:
    names = [str(p) for p in STEP_ORDER]
    return names[names.index(phase) :] if phase in names else []


def _push_again(actor: Any, rotation: Rotation) -> None:
    """Request pushes of the feed's deliveries that do not hold the new token."""
    from targets.models import Delivery, DeliveryStatus
    from targets.pushing import pushes_request

    deliveries = list(
        Delivery.objects.filter(feed_id=rotation.of_feed.pk).exclude(
            status=DeliveryStatus.DELIVERED, delivered_fingerprint=rotation.new_fingerprint
        )
    )
    pushes_request(deliveries=deliveries, actor=actor, reason="rotation")


@transaction.atomic
def rotation_rollback(*, actor: Any, rotation: Rotation) -> Rotation:
    """Put the previous token back everywhere after a failed rotation; the new token is then discarded (and
    revoked when Feedkeeper minted it)."""
    from feeds.services import feed_switch_token

    if rotation.is_credential:
        raise ValidationError(
            {"non_field_errors": "A target's credential rotation has nothing to roll back: retry it instead."}
        )
    rotation = (
        Rotation.objects.select_for_update(of=("self",)).select_related("feed", "previous_token").get(pk=rotation.pk)
    )
    if rotation.status != Status.FAILED and not (rotation.status == Status.RUNNING and rotation.phase == Phase.VERIFY):
        raise ValidationError(
            {
                "non_field_errors": (
                    f"Only a failed rotation (or one still verifying) can be rolled back; it is {rotation.status}."
                )
            }
        )
    if rotation.previous_token is None or rotation.previous_token.stage == TokenVersion.Stage.REVOKED:
        raise ValidationError({"non_field_errors": "The previous token is gone: there is nothing to roll back to."})
    others = Rotation.objects.filter(feed=rotation.of_feed, status=Status.RUNNING).exclude(pk=rotation.pk)
    if others.exists():
        _refuse_running(rotation.of_feed)
    feed = rotation.of_feed
    switched = feed.current_token_id != rotation.previous_token_id
    if switched:
        feed_switch_token(
            actor=actor, feed=feed, version=rotation.previous_token, reason=f"rollback of rotation {rotation.pk}"
        )
    if rotation.new_token is not None:
        TokenVersion.objects.filter(pk=rotation.new_token.pk).update(stage=TokenVersion.Stage.DISCARDED)
    rotation.status = Status.RUNNING
    rotation.phase = Phase.ROLLBACK
    rotation.verify_started_at = timezone.now()
    rotation.finished_at = None
    rotation.save()
    RotationStep.objects.update_or_create(
        rotation=rotation,
        name=Phase.ROLLBACK,
        defaults={
            "status": StepStatus.RUNNING,
            "started_at": timezone.now(),
            "detail": "Pushing the previous token again.",
            "attempts": 0,
        },
    )
    audit_record(
        actor=actor,
        action="rotation.rollback",
        obj=rotation,
        detail={"fingerprint": rotation.previous_fingerprint, "discarded_fingerprint": rotation.new_fingerprint},
    )
    _enqueue(rotation)
    return rotation


def rotation_plan(feed: Feed) -> dict[str, Any]:
    """What a rotation of ``feed`` would do and touch, changing nothing (the dry run)."""
    from rotations.dependents import feed_dependents

    connection: Connection | None = feed.rotation_connection
    places = feed_dependents(feed)
    running = running_rotation(feed)
    return {
        "feed": feed.pk,
        "mint": f"minted by {connection.get_kind_display()} connection {connection.name}"
        if connection
        else "pasted by an admin",
        "revoke": (
            f"revoked at {connection.get_kind_display()} after {feed.rotation_grace_hours} h grace"
            if connection
            else "revoked by an admin (Feedkeeper reminds)"
        ),
        "token_lifetime_days": feed.token_lifetime_days if connection else None,
        "deliveries": len({p["delivery"] for p in places}),
        "dependents": places,
        "needs_restart": [p for p in places if p["needs_restart"]],
        "blocked_by": running.pk if running else None,
    }


# --- the scheduler -------------------------------------------------------------------------------------------
def refresh_schedule() -> int:
    """Recompute every feed's ``next_rotation_at``; returns how many changed."""
    changed = []
    for feed in Feed.objects.select_related("current_token"):
        due = feed.compute_next_rotation()
        if due != feed.next_rotation_at:
            feed.next_rotation_at = due
            changed.append(feed)
    Feed.objects.bulk_update(changed, ["next_rotation_at"])
    return len(changed)


def start_due(now: Any = None) -> list[Rotation]:
    """Start a scheduled rotation of every feed that is due and has a connection to mint with; remind (once per
    token) about feeds that are due but rotate by hand."""
    from audit.models import AuditEvent

    now = now or timezone.now()
    started: list[Rotation] = []
    due = Feed.objects.filter(next_rotation_at__lte=now, current_token__isnull=False).select_related("current_token")
    for feed in due:
        if Rotation.objects.filter(feed=feed, status=Status.RUNNING).exists():
            continue
        if feed.rotation_connection_id is None:
            fingerprint = feed.fingerprint
            reminded = AuditEvent.objects.filter(
                action="rotation.reminder", object_type="feed", object_id=str(feed.pk), detail__fingerprint=fingerprint
            ).exists()
            if not reminded:
                audit_record(
                    actor="scheduler",
                    action="rotation.reminder",
                    obj=feed,
                    outcome=AuditEvent.Outcome.FAILURE,
                    detail={
                        "fingerprint": fingerprint,
                        "due": feed.next_rotation_at.isoformat() if feed.next_rotation_at else None,
                        "message": "Rotation is due and this feed has no connection: paste a new token.",
                    },
                )
            continue
        recent_failure = Rotation.objects.filter(
            feed=feed,
            trigger=Trigger.SCHEDULE,
            status=Status.FAILED,
            created_at__gte=now - RETRY_FAILED_SCHEDULED_AFTER,
        ).exists()
        if recent_failure:
            continue
        try:
            started.append(rotation_request(actor="scheduler", feed=feed, trigger=Trigger.SCHEDULE))
        except ValidationError as exc:
            log.info("Scheduled rotation of feed %s not started: %s", feed.pk, exc)
    return started


def resume_lost(now: Any = None) -> int:
    """Rotations whose worker or task was lost: running ones with no live lease and no recent progress, and
    completed ones whose revocation is due. Each is handed to a worker again; returns how many."""
    from rotations.tasks import advance_rotation

    now = now or timezone.now()
    quiet = now - timedelta(seconds=max(settings.ROTATION_POLL_SECONDS * 3, 30))
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    running = Rotation.objects.filter(free, status=Status.RUNNING, updated_at__lt=quiet)
    revoking = Rotation.objects.filter(
        free, status=Status.COMPLETED, revoke_done=False, revoke_after__lte=now, phase=Phase.REVOKE
    ).exclude(steps__name=Phase.REVOKE, steps__status=StepStatus.FAILED)
    # A rotation may move from one set to the other between the two queries: hand it over once.
    ids = sorted(set(running.values_list("pk", flat=True)) | set(revoking.values_list("pk", flat=True)))
    for rotation_id in ids:
        advance_rotation.delay(rotation_id)
    return len(ids)


def tick() -> dict[str, int]:
    """The scheduler's minute: recompute schedules, start due rotations, resume lost ones."""
    from rotations.credential_services import start_due_credentials

    refreshed = refresh_schedule()
    started = start_due()
    credentials = start_due_credentials()
    resumed = resume_lost()
    return {
        "rescheduled": refreshed,
        "started": len(started),
        "credentials_started": len(credentials),
        "resumed": resumed,
    }
