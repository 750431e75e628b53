"""Findings: credentials in plain sight on a target (an index URL with a token pasted into a cluster's env vars, a
policy, a library source, a non-secret variable), and the scans that find them.

A finding never holds the credential: only its ``fingerprint`` (the keyed hash of :func:`core.crypto.fingerprint`,
the same as a feed token's) and a redacted ``excerpt``. One row per place and credential: a rescan updates
``last_seen``, never adds a second row."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import CheckRun


class ScanStatus(models.TextChoices):
    """How a finished scan went: every part read (``ok``), some parts could not be read (``partial``: what they
    held is neither added nor resolved), or nothing could be read (``failed``)."""

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class ScanRun(CheckRun):
    """One scan of a target, on the shared check lifecycle (``/api/v1/checks/{id}/`` reads it). ``sources`` holds
    ``{name, status, detail, values}`` per part read; ``counts`` how many findings it opened, saw again and
    resolved. Never a value."""

    KIND = "scan"

    target = models.ForeignKey("targets.Target", on_delete=models.CASCADE, related_name="scans")
    sources = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.kind = self.KIND
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"scan of target {self.target_id}: {self.status}"


class FindingStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class FindingKind(models.TextChoices):
    """``credential_url``: a URL with credentials in its userinfo (``scheme://user:pass@host/...``);
    ``token_match``: a value that holds a feed's token without a URL around it."""

    CREDENTIAL_URL = "credential_url"
    TOKEN_MATCH = "token_match"


class TokenMatch(models.TextChoices):
    """Whose token the credential is: the matched feed's current one, one it had before (previous, revoked or
    retired), or no token Feedkeeper knows."""

    CURRENT = "current"
    PREVIOUS = "previous"
    UNKNOWN = "unknown"


class FindingQuerySet(models.QuerySet["Finding"]):
    def open(self) -> FindingQuerySet:
        return self.filter(status=FindingStatus.OPEN)


class Finding(models.Model):
    """A credential found at one place of a target. ``location`` names the place (``cluster 0123-abc
    spark_env_vars.PIP_INDEX_URL``), ``source`` the part of the scan that reads it (a failed part resolves nothing),
    ``place`` what kind of place it is (ids and names, never a value) and ``editable`` whether Feedkeeper may
    change it (then "Replace with a managed delivery" removes the plaintext). ``feed`` is matched by host and path
    (or by the token); ``token_match`` says whether it is the feed's current, a previous or an unknown token."""

    target = models.ForeignKey("targets.Target", on_delete=models.CASCADE, related_name="findings")
    source = models.CharField(max_length=100)
    location = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=FindingKind.choices, default=FindingKind.CREDENTIAL_URL)
    fingerprint = models.CharField(max_length=16)
    excerpt = models.CharField(max_length=300)
    host = models.CharField(max_length=255, blank=True)
    feed = models.ForeignKey("feeds.Feed", null=True, blank=True, on_delete=models.SET_NULL, related_name="findings")
    token_match = models.CharField(max_length=16, choices=TokenMatch.choices, default=TokenMatch.UNKNOWN)
    place = models.JSONField(default=dict, blank=True)
    editable = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, blank=True, help_text="gone (a scan no longer sees it) or replaced.")
    ignored_reason = models.TextField(blank=True)
    ignored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ignored_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        "targets.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_findings"
    )
    last_scan = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "location", "fingerprint"], name="one_finding_per_place")
        ]
        indexes = [models.Index(fields=["target", "status"])]

    def __str__(self) -> str:
        return f"{self.location} ({self.fingerprint})"
