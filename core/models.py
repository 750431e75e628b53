"""API tokens: bearer tokens that act as their user, shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "fk_"


def hash_token(raw: str) -> str:
    """SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        """Neither revoked nor expired (a token without ``expires_at`` predates expiry and never expires)."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A user's API token. ``token_hash`` is the only stored form; ``prefix`` helps the owner tell them apart.
    It stops working at ``expires_at``; a ``read`` token may only read (GET, HEAD, OPTIONS), whatever its user's
    role. Changing the user's password or deactivating the user revokes every token of theirs."""

    class Scope(models.TextChoices):
        FULL = "full", "acts with the user's role"
        READ = "read", "read-only"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.FULL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, *, user: models.Model, name: str, expires_at: Any = None, scope: str = Scope.FULL
    ) -> tuple[ApiToken, str]:
        """Create a token for ``user``; returns the row and the raw token, which is never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=raw[:8], token_hash=hash_token(raw), expires_at=expires_at, scope=scope
        )
        return token, raw

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def read_only(self) -> bool:
        return self.scope == self.Scope.READ


class KeyCanary(models.Model):
    """A known value stored under a key, so that startup can tell a wrong or missing key from a good one
    (:mod:`core.keycheck`): ``encryption`` rows hold the canary text encrypted with one key of
    ``FIELD_ENCRYPTION_KEYS`` (``retired`` once ``rotate_encryption_key`` moved every value off that key);
    the ``fingerprint`` row holds the canary's fingerprint under ``FINGERPRINT_KEY``."""

    class Kind(models.TextChoices):
        ENCRYPTION = "encryption"
        FINGERPRINT = "fingerprint"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.TextField()
    retired = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} canary {self.pk}"


class RunState(models.TextChoices):
    """Where a check is before it has a result. Each kind of check names its final statuses in the app that
    owns it; a run whose status is neither of these is final."""

    PENDING = "pending"
    RUNNING = "running"


class CheckRun(models.Model):
    """The shared record of any check (a feed's credential check, a target's health checks), so that
    ``/api/v1/checks/{id}/`` names either with one id. Subclasses add what they check and what they found."""

    class Kind(models.TextChoices):
        FEED = "feed"
        TARGET = "target"

    kind = models.CharField(max_length=8, choices=Kind.choices, editable=False)
    status = models.CharField(max_length=16, default=RunState.PENDING, db_index=True)
    detail = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} check {self.pk}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status not in RunState.values
