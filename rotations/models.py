"""Rotations: replacing a feed's token everywhere, step by step, resumable after a crash.

A rotation goes mint (or take the pasted token) → test → push → verify → promote, and later revoke; each step is a
:class:`RotationStep` row with its status, times and redacted detail. The rotation's ``phase`` names the step it
is at; a worker holds the rotation through a lease (``lease_until``), so two workers never run the same step and a
dead worker's rotation is taken over once its lease runs out. At most one rotation per feed runs at a time
(a partial unique constraint on ``feed`` where ``status = running``).

A rotation replaces either a feed's token (``feed``) or the credential a target signs in with (``target``, for
adapters that can mint their own, a Databricks PAT): mint → test → switch → verify → revoke, on the same step
record; :mod:`rotations.credentials` runs those."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.fields import EncryptedTextField

if TYPE_CHECKING:
    from feeds.models import Feed
    from targets.models import Target


class Trigger(models.TextChoices):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    EMERGENCY = "emergency"


class Status(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class Phase(models.TextChoices):
    """The step a rotation is at (after ``done`` nothing is left; ``revoke`` waits for the grace)."""

    MINT = "mint"
    TEST = "test"
    PUSH = "push"
    VERIFY = "verify"
    PROMOTE = "promote"
    REVOKE = "revoke"
    ROLLBACK = "rollback"
    SWITCH = "switch"
    DONE = "done"


STEP_ORDER = [Phase.MINT, Phase.TEST, Phase.PUSH, Phase.VERIFY, Phase.PROMOTE, Phase.REVOKE]
CREDENTIAL_STEP_ORDER = [Phase.MINT, Phase.TEST, Phase.SWITCH, Phase.VERIFY, Phase.REVOKE]


class Rotation(models.Model):
    feed = models.ForeignKey("feeds.Feed", null=True, blank=True, on_delete=models.CASCADE, related_name="rotations")
    target = models.ForeignKey(
        "targets.Target", null=True, blank=True, on_delete=models.CASCADE, related_name="credential_rotations"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    emergency = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.MINT)
    new_token = models.ForeignKey(
        "feeds.TokenVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_token = models.ForeignKey(
        "feeds.TokenVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept apart from the token rows, which may be deleted with their feed's history.
    new_fingerprint = models.CharField(max_length=16, blank=True)
    previous_fingerprint = models.CharField(max_length=16, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    verify_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Revocation of the previous token: not before this time, nor (within the maximum grace) while a cluster
    # still runs with the old value.
    revoke_after = models.DateTimeField(null=True, blank=True, db_index=True)
    previous_revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_done = models.BooleanField(default=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Per delivery: {"<delivery id>": {"status", "fingerprint"}}, frozen when the rotation ends.
    deliveries = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # A target's credential rotation: the minted credential until it is switched in (then wiped), and the
    # platform's ids of the new and the previous credential (empty when Feedkeeper did not mint it).
    pending_credential = EncryptedTextField(blank=True)
    new_credential_id = models.CharField(max_length=128, blank=True)
    new_credential_expires_at = models.DateTimeField(null=True, blank=True)
    previous_credential_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feed"], condition=Q(status="running"), name="one_running_rotation_per_feed"
            ),
            models.UniqueConstraint(
                fields=["target"], condition=Q(status="running"), name="one_running_rotation_per_target"
            ),
            models.CheckConstraint(
                condition=Q(feed__isnull=False, target__isnull=True) | Q(feed__isnull=True, target__isnull=False),
                name="rotation_of_a_feed_or_a_target",
            ),
        ]

    def __str__(self) -> str:
        return f"rotation {self.pk} of {self.subject}"

    @property
    def subject(self) -> Any:
        """The feed whose token, or the target whose credential, this rotation replaces."""
        return self.feed if self.feed_id is not None else self.target

    @property
    def is_credential(self) -> bool:
        return self.target_id is not None

    @property
    def of_feed(self) -> Feed:
        """The feed of a feed's rotation (an error for a target's)."""
        if self.feed is None:
            raise ValueError(f"Rotation {self.pk} rotates a target's credential, not a feed's token.")
        return self.feed

    @property
    def of_target(self) -> Target:
        """The target of a target credential's rotation (an error for a feed's)."""
        if self.target is None:
            raise ValueError(f"Rotation {self.pk} rotates a feed's token, not a target's credential.")
        return self.target

    @property
    def mint_description(self) -> str:
        """How a token minted for this rotation is named at its provider (also how a lost mint is found again)."""
        if self.target is not None:
            return f"Feedkeeper: target {self.target.name} (id {self.target_id}), rotation {self.pk}"
        return f"Feedkeeper: feed {self.of_feed.name} (id {self.feed_id}), rotation {self.pk}"


class StepStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    MANUAL = "manual"  # left to an admin (revoke a pasted token where the provider cannot)


class RotationStep(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=16, choices=Phase.choices)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    detail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["rotation", "name"], name="one_step_per_name")]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"

    @property
    def at(self) -> object:
        return self.finished_at or self.started_at or self.updated_at
