"""Targets (where feeds are delivered), deliveries (one feed at one place in one target), pushes (each attempt to
put it there) and target checks (health). The database is the source of truth for what still has to happen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField
from core.models import CheckRun
from targets.health import Health


class Target(models.Model):
    """One place on a platform that Feedkeeper delivers to (a Databricks workspace, a Valohai organization, ...).
    What every platform shares is a column; what is platform-specific is in ``config``, declared and validated by
    the kind's adapter (``cfg`` is it parsed). The credential (token or OAuth client secret) is encrypted;
    ``credential_fingerprint`` names it. ``info`` holds what the adapter resolved (workspace id, organization id,
    projects) for display."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20)
    url = models.URLField(max_length=300)
    auth_type = models.CharField(max_length=20)
    config = models.JSONField(default=dict, blank=True, help_text="The adapter's platform-specific settings.")
    credential = EncryptedTextField()
    credential_fingerprint = models.CharField(max_length=16)
    # When the credential stops working: read from the platform where it tells (Databricks token/list, GitHub's
    # expiry header) or entered by an admin; null means unknown (or never, for OAuth client secrets).
    credential_expires_at = models.DateTimeField(null=True, blank=True)
    credential_expires_source = models.CharField(
        max_length=16, blank=True, choices=[("entered", "entered"), ("platform", "platform")]
    )
    credential_set_at = models.DateTimeField(null=True, blank=True)
    # A target whose adapter can mint its own credential (a Databricks PAT) rotates it every this many days (null:
    # never), and at the latest CREDENTIAL_ROTATION_LEAD_DAYS before it expires; new tokens live this long.
    credential_rotation_days = models.PositiveIntegerField(null=True, blank=True)
    credential_lifetime_days = models.PositiveIntegerField(default=90)
    credential_next_rotation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    info = models.JSONField(default=dict, blank=True)
    max_concurrency = models.PositiveSmallIntegerField(
        default=4, help_text="Pushes to this target make at most this many platform calls at once."
    )
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_credential(self, secret: str) -> None:
        self.credential = crypto.encrypt(secret)
        self.credential_fingerprint = crypto.fingerprint(secret)

    def reveal_credential(self) -> str:
        """The plaintext credential. Only adapters call this."""
        return crypto.decrypt(self.credential)

    def compute_credential_next_rotation(self) -> Any:
        """When the credential's next scheduled rotation is due: ``credential_rotation_days`` after it was set, or
        ``CREDENTIAL_ROTATION_LEAD_DAYS`` before it expires, whichever comes first; None when it does not rotate."""
        if not self.credential_rotation_days:
            return None
        due = [(self.credential_set_at or self.created_at) + timedelta(days=self.credential_rotation_days)]
        if self.credential_expires_at is not None:
            due.append(self.credential_expires_at - timedelta(days=settings.CREDENTIAL_ROTATION_LEAD_DAYS))
        return min(due)

    def credential_expiry_status(self) -> str:
        """``ok``, ``expiring``, ``expired`` or ``unknown``, by the same thresholds as feed tokens."""
        from feeds.models import expiry_status_of

        return expiry_status_of(self.credential_expires_at)

    def adapter(self) -> Any:
        from targets.adapters import get_adapter

        return get_adapter(self)

    @property
    def adapter_class(self) -> Any:
        from targets.adapters import REGISTRY

        return REGISTRY[self.kind]

    @property
    def cfg(self) -> Any:
        """``config`` parsed into the adapter's ``TargetConfig`` dataclass."""
        from targets.adapters.base import parse_config

        return parse_config(self.adapter_class.TargetConfig, self.config)

    def get_kind_display(self) -> str:
        from targets.adapters import REGISTRY

        return REGISTRY[self.kind].label if self.kind in REGISTRY else self.kind


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    PUSHING = "pushing"
    DELIVERED = "delivered"
    FAILED = "failed"
    STALE = "stale"


class Delivery(models.Model):
    """One feed's credentialed index URL at one place in one target. ``mode`` and ``config`` (the settings the
    mode uses, ``cfg`` parsed) are the adapter's to validate; ``location`` is the canonical name of the place
    (unique per target), so two deliveries never fight over one secret. Feedkeeper owns only the places its
    deliveries name."""

    feed = models.ForeignKey("feeds.Feed", on_delete=models.CASCADE, related_name="deliveries")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="deliveries")
    mode = models.CharField(max_length=32)
    role = models.CharField(max_length=8, default="index", choices=[("index", "index"), ("extra", "extra")])
    config = models.JSONField(default=dict, blank=True, help_text="The adapter's settings for this mode.")
    location = models.CharField(max_length=300, editable=False)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    delivered_fingerprint = models.CharField(max_length=16, blank=True)
    delivered_remote_ts = models.BigIntegerField(
        null=True, blank=True, help_text="The target's own timestamp (ms) of the value we delivered."
    )
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    state = models.JSONField(default=dict, blank=True, help_text="Adapter bookkeeping: per-project and per-cluster.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target__name", "feed__name", "id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["target", "location"], name="one_delivery_per_place")]

    def __str__(self) -> str:
        return f"{self.feed} → {self.target} ({self.location})"

    def is_current(self) -> bool:
        return bool(self.delivered_fingerprint) and self.delivered_fingerprint == self.feed.fingerprint

    @property
    def cfg(self) -> Any:
        """``config`` parsed into the target adapter's ``DeliveryConfig`` dataclass."""
        from targets.adapters.base import parse_config

        return parse_config(self.target.adapter_class.DeliveryConfig, self.config)

    @property
    def may_restart(self) -> bool:
        """Whether pushing it may restart something running (the push form then asks for consent)."""
        return bool(self.target.adapter_class.may_restart(self))

    def rows(self) -> list[tuple[str, Any]]:
        """The delivery's settings as (label, value) rows for its page."""
        return list(self.target.adapter_class.delivery_rows(self))


class PushStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PushQuerySet(models.QuerySet["Push"]):
    def open(self) -> PushQuerySet:
        return self.filter(status__in=[PushStatus.PENDING, PushStatus.RUNNING])


class Push(models.Model):
    """One request to put a delivery in place, with its attempts. ``pending`` waits for a slot (``dispatched_at``
    empty) or sits in the broker (set); ``running`` is on a worker. The value pushed is read when it runs, so a
    push always carries the feed's current token; ``fingerprint`` records which one."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="pushes")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="pushes")
    status = models.CharField(max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING)
    restart_consent = models.BooleanField(
        default=False, help_text="The requester agreed that wiring a running cluster restarts it."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=32, default="manual")
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running this push."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    fingerprint = models.CharField(max_length=16, blank=True)
    remote_ts = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = PushQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target", "status"]),
            models.Index(fields=["status", "dispatched_at"]),
            models.Index(fields=["status", "heartbeat_at"], name="targets_pus_status_hb_idx"),
        ]

    def __str__(self) -> str:
        return f"push {self.pk} of delivery {self.delivery_id}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in (PushStatus.SUCCEEDED, PushStatus.FAILED)


class TargetCheck(CheckRun):
    """One run of a target's health checks; ``results`` holds ``{name, status, detail}`` per check and the
    overall status is the worst of them (ok, warning, failing)."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="checks")
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = CheckRun.Kind.TARGET
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"check of target {self.target_id}: {self.status}"
