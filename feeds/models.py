"""Feeds, their token versions, and credential checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
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
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

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
        """The plaintext token. Call only where it is sent to a feed or a target."""
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
