"""Audit events: who did what to which object, when, with what outcome. Append-only (in Python and, through
triggers, in the database); tamper-evident through a hash chain; no secret values."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit events cannot be updated.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One recorded action. ``actor`` is null for the system (scheduler, worker) and a reference without a database
    constraint, so deleting a user never touches the history; ``actor_name`` keeps the name. ``detail`` is redacted
    JSON; secrets appear only as fingerprints.

    Events are written unsealed (``seq``, ``prev_hash`` and ``hash`` null) and sealed shortly after their
    transaction commits (:func:`audit.chain.audit_seal`): ``seq`` is the position in the chain and
    ``hash = sha256(canonical content + prev_hash)``. The database refuses every UPDATE except that one-time seal,
    and every DELETE except of events covered by a retention anchor."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        WARNING = "warning"
        FAILURE = "failure"
        DENIED = "denied"

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    hash = models.CharField(max_length=64, null=True, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # Keyset pagination, newest first, alone and under each exact filter.
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["action", "at", "id"], name="audit_action_at_id"),
            models.Index(fields=["actor_name", "at", "id"], name="audit_actor_at_id"),
            models.Index(fields=["object_type", "object_id", "at", "id"], name="audit_object_at_id"),
            models.Index(fields=["outcome", "at", "id"], name="audit_outcome_at_id"),
            # The few events waiting for their seal.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Audit events cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditChainHead(models.Model):
    """The one row (pk 1) naming the last sealed event: its ``seq`` and ``hash``. Sealing locks this row, so
    sealers queue here and never fork the chain."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit chain head {self.seq}"


class AuditAnchor(models.Model):
    """A retention cut: every event up to ``seq`` (whose hash was ``hash``) was pruned at ``at``. Verification
    starts after the latest anchor. Append-only, and the only thing that lets the database delete events."""

    at = models.DateTimeField(default=timezone.now)
    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    pruned = models.BigIntegerField(default=0)
    cutoff = models.DateTimeField()

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"audit anchor at seq {self.seq}"


class AuditVerification(models.Model):
    """The last verification's result (one row, pk 1), so the audit page shows the chain's state without
    verifying it. ``seq``/``hash`` are where it stopped, from which the next incremental run goes on."""

    checked_at = models.DateTimeField(default=timezone.now)
    intact = models.BooleanField(default=True)
    events = models.BigIntegerField(default=0)
    first_broken = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)
    full = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"audit verification {self.checked_at:%Y-%m-%d %H:%M:%S}: {'intact' if self.intact else 'broken'}"
