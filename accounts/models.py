"""A user's signed-in sessions, so they can see them and end one (the session store cannot be searched by user)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin


class UserSession(models.Model):
    """One browser session of a user, from login to logout (or expiry). ``session_key`` names it in the session
    store; the row goes when the session ends here, and a row whose session is gone from the store is stale."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=64, unique=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} from {self.ip or '?'}"


class OidcIdentity(models.Model):
    """A person at an OpenID Connect provider (``issuer``, ``subject``) and the user they sign in as."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_oidc_identity")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class RecoveryCodes(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """A user's single-use recovery codes, as a django-otp device. Only each code's SHA-256 is kept (django-otp's
    own static device stores them in plaintext); the codes are random (80 bits), so a plain hash is enough."""

    class Meta:
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def get_throttle_factor(self) -> int:
        return 1

    @staticmethod
    def digest(code: str) -> str:
        normal = "".join(code.split()).replace("-", "").lower()
        return hashlib.sha256(normal.encode()).hexdigest()

    def verify_token(self, token: Any) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        used = RecoveryCode.objects.filter(device=self, digest=self.digest(str(token))).delete()[0]
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment()
        return False


class RecoveryCode(models.Model):
    """One unused recovery code, by its digest (a used code's row is deleted)."""

    device = models.ForeignKey(RecoveryCodes, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["device", "digest"])]

    def __str__(self) -> str:
        return f"recovery code of {self.device.user}"
