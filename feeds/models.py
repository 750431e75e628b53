"""Feeds, their token versions, and credential checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField
from core.models import CheckRun, RunState
from feeds import kinds

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ExpiryStatus(models.TextChoices):
    OK = "ok"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


def expiry_status_of(expires_at: object, *, now: object = None) -> str:
    """``ok``, ``expiring`` (within ``EXPIRY_WARNING_DAYS``), ``expired`` or ``unknown`` (no expiry known)."""
    if expires_at is None:
        return ExpiryStatus.UNKNOWN
    now = now or timezone.now()
    if expires_at <= now:  # type: ignore[operator]
        return ExpiryStatus.EXPIRED
    if expires_at <= now + timedelta(days=settings.EXPIRY_WARNING_DAYS):  # type: ignore[operator]
        return ExpiryStatus.EXPIRING
    return ExpiryStatus.OK


def render_credentialed_url(index_url: str, username: str, token: str) -> str:
    """``index_url`` with ``username:token@`` (or ``token@`` without a username) as RFC 3986 userinfo.
    Every reserved character is percent-encoded, so a token like ``p@ss:w/rd%#?`` works with pip."""
    parts = urlsplit(index_url)
    userinfo = quote(token, safe="")
    if username:
        userinfo = f"{quote(username, safe='')}:{userinfo}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


class Feed(models.Model):
    """A private package index. ``index_url`` never holds credentials; the token lives in :class:`TokenVersion`
    rows, encrypted, and ``current_token`` names the one in use."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=kinds.CHOICES, default="generic")
    index_url = models.URLField(max_length=500)
    username = models.CharField(max_length=200, blank=True)
    # Parts the index URL is built from, by kind (Azure DevOps: organization, project, feed name; JFrog: base URL,
    # repository). Kept so the edit form shows what was entered.
    organization = models.CharField(max_length=200, blank=True)
    project = models.CharField(max_length=200, blank=True)
    feed_name = models.CharField(max_length=200, blank=True)
    base_url = models.CharField(max_length=300, blank=True)
    repository = models.CharField(max_length=200, blank=True)
    current_token = models.OneToOneField(
        "TokenVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Rotation: who mints the next token (none: an admin pastes it), and when.
    rotation_connection = models.ForeignKey(
        "Connection", null=True, blank=True, on_delete=models.PROTECT, related_name="feeds"
    )
    rotation_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rotate this often even if the token does not expire."
    )
    rotation_lead_days = models.PositiveIntegerField(
        default=14, help_text="Start a scheduled rotation this many days before the token expires."
    )
    rotation_grace_hours = models.PositiveIntegerField(
        default=24, help_text="Keep the previous token valid this long after the new one is current everywhere."
    )
    token_lifetime_days = models.PositiveIntegerField(default=90, help_text="Lifetime of a minted token.")
    next_rotation_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def compute_next_rotation(self) -> datetime | None:
        """When the next scheduled rotation is due: ``rotation_lead_days`` before the current token expires, or
        ``rotation_interval_days`` after it was made current, whichever comes first; None when neither applies."""
        token = self.current_token
        if token is None:
            return None
        due: list[datetime] = []
        if token.expires_at is not None:
            due.append(token.expires_at - timedelta(days=self.rotation_lead_days))
        if self.rotation_interval_days:
            due.append((token.promoted_at or token.created_at) + timedelta(days=self.rotation_interval_days))
        return min(due) if due else None

    @property
    def kind_spec(self) -> kinds.FeedKind:
        return kinds.REGISTRY[self.kind]

    @property
    def effective_username(self) -> str:
        """The username placed in the URL: the one set, else the kind's default (Azure DevOps ignores it)."""
        return self.username or self.kind_spec.default_username

    @property
    def fingerprint(self) -> str:
        return self.current_token.fingerprint if self.current_token else ""

    @property
    def token_expires_at(self) -> datetime | None:
        return self.current_token.expires_at if self.current_token else None

    def expiry_status(self) -> str:
        return expiry_status_of(self.token_expires_at)

    def days_to_expiry(self) -> int | None:
        expires = self.token_expires_at
        if expires is None:
            return None
        return (expires - timezone.now()).days

    def credentialed_url(self) -> str:
        """The index URL with the current token inside. Only adapters and the check call this, never a view."""
        if self.current_token is None:
            raise ValueError(f"Feed {self.name} has no token.")
        return render_credentialed_url(self.index_url, self.effective_username, self.current_token.reveal())

    def last_check(self) -> FeedCheck | None:
        return self.checks.order_by("-created_at", "-id").first()


class TokenVersion(models.Model):
    """One token a feed has had. The value is encrypted and never shown again; ``fingerprint`` names it."""

    class Source(models.TextChoices):
        MANUAL = "manual"
        ROTATION = "rotation"

    class Stage(models.TextChoices):
        """Where the token is in its life (the pending/current/previous model of scheduled secret rotation):
        ``pending`` minted or pasted and not yet everywhere; ``current`` in use; ``previous`` replaced, still valid
        until revoked; ``revoked`` revoked at its provider; ``retired`` no longer used, not revoked by Feedkeeper;
        ``discarded`` a pending token that never became current."""

        PENDING = "pending"
        CURRENT = "current"
        PREVIOUS = "previous"
        REVOKED = "revoked"
        RETIRED = "retired"
        DISCARDED = "discarded"

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="token_versions")
    ciphertext = EncryptedTextField()
    fingerprint = models.CharField(max_length=16, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.CURRENT)
    promoted_at = models.DateTimeField(null=True, blank=True, help_text="When it became current.")
    # Minted by a connection: its id there, so it can be revoked by id.
    connection = models.ForeignKey(
        "Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="token_versions"
    )
    provider_token_id = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.feed} token {self.fingerprint}"

    def __repr__(self) -> str:
        return f"<TokenVersion {self.pk} feed={self.feed_id} fingerprint={self.fingerprint}>"

    @classmethod
    def build(
        cls,
        *,
        feed: Feed,
        token: str,
        expires_at: datetime | None = None,
        created_by: User | None = None,
        source: str = Source.MANUAL,
    ) -> TokenVersion:
        """An unsaved version holding ``token`` encrypted with the primary key."""
        return cls(
            feed=feed,
            ciphertext=crypto.encrypt(token),
            fingerprint=crypto.fingerprint(token),
            expires_at=expires_at,
            created_by=created_by,
            source=source,
        )

    def reveal(self) -> str:
        """The plaintext token. Call only where it is sent to a feed or a target. A version destroyed after its
        grace (``rotations.retention``) has no value left: a clear, permanent error."""
        if not self.ciphertext:
            raise crypto.DecryptionError("This token version was destroyed after its rotation grace; it has no value.")
        return crypto.decrypt(self.ciphertext)

    def expiry_status(self) -> str:
        return expiry_status_of(self.expires_at)


class CheckStatus(models.TextChoices):
    """What a finished credential check found. Before that a check is pending or running
    (:class:`core.models.RunState`)."""

    OK = "ok"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"
    ERROR = "error"


FINAL_CHECK_STATUSES = frozenset(CheckStatus)


class FeedCheckQuerySet(models.QuerySet["FeedCheck"]):
    def unfinished(self) -> FeedCheckQuerySet:
        return self.filter(status__in=RunState.values)


if TYPE_CHECKING:
    # Names the manager type ``as_manager()`` builds, so ``objects`` can be declared a ClassVar like the base's.
    FeedCheckManager = models.Manager.from_queryset(FeedCheckQuerySet)


class FeedCheck(CheckRun):
    """One credential check of a feed: does the index accept the token? ``fingerprint`` names the token tried.
    Status, timings and detail live in the shared :class:`core.models.CheckRun` row."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="checks")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=16, blank=True)

    objects: ClassVar[FeedCheckManager[FeedCheck]] = FeedCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args: object, **kwargs: object) -> None:
        self.kind = CheckRun.Kind.FEED
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"check of feed {self.feed_id}: {self.status}"


class ConnectionStatus(models.TextChoices):
    UNKNOWN = "unknown"
    OK = "ok"
    NEEDS_CONSENT = "needs_consent"
    FAILING = "failing"


class Connection(models.Model):
    """Credentials Feedkeeper uses to mint and revoke feed tokens at a provider (``feeds.providers``): a JFrog
    access token allowed to create and revoke tokens, or an Entra application and the refresh token an admin's
    consent gave for the Azure DevOps PAT API. Every secret is encrypted and write-only."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20)
    url = models.URLField(max_length=300)
    credential = EncryptedTextField(blank=True)
    credential_fingerprint = models.CharField(max_length=16, blank=True)
    tenant_id = models.CharField(max_length=100, blank=True)
    client_id = models.CharField(max_length=100, blank=True)
    client_secret = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    consented_by = models.CharField(max_length=200, blank=True, help_text="The user whose consent is held.")
    status = models.CharField(max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.UNKNOWN)
    status_detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_secret(self, field: str, value: str) -> None:
        setattr(self, field, crypto.encrypt(value) if value else "")
        if field == "credential":
            self.credential_fingerprint = crypto.fingerprint(value) if value else ""

    def reveal(self, field: str) -> str:
        """A stored secret in plaintext (``credential``, ``client_secret`` or ``refresh_token``); only providers."""
        value = getattr(self, field)
        return crypto.decrypt(value) if value else ""

    @property
    def provider(self) -> Any:
        from feeds.providers import get_provider

        return get_provider(self.kind)

    def get_kind_display(self) -> str:
        from feeds.providers import REGISTRY

        return REGISTRY[self.kind].label if self.kind in REGISTRY else self.kind
