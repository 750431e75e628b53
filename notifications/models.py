"""Notification channels (where to tell), notifications (one row per thing worth telling, per recipient) and
per-user e-mail subscriptions. A notification is created in the transaction of the change that causes it, unique on
what it is about, and delivered by the worker; the row, not the broker, says what still has to be sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core import crypto
from core.fields import EncryptedTextField


class Event(models.TextChoices):
    """What a channel may subscribe to (the API contract's list)."""

    TOKEN_EXPIRING = "token.expiring"
    TOKEN_EXPIRED = "token.expired"
    PUSH_FAILED = "push.failed"
    HEALTH_FAILING = "health.failing"
    HEALTH_RECOVERED = "health.recovered"
    ROTATION_COMPLETED = "rotation.completed"
    ROTATION_FAILED = "rotation.failed"
    FINDING_NEW = "finding.new"


# Events about a feed, the ones a user's e-mail subscription can follow.
FEED_EVENTS = (
    Event.TOKEN_EXPIRING,
    Event.TOKEN_EXPIRED,
    Event.PUSH_FAILED,
    Event.ROTATION_COMPLETED,
    Event.ROTATION_FAILED,
)
# Besides the events: a channel's test message and the daily digest.
TEST = "test"
DIGEST = "digest"
RECORD_EVENTS = [*Event.choices, (TEST, "test"), (DIGEST, "digest")]


class ChannelKind(models.TextChoices):
    """How a channel is reached: Django's mail, or an incoming webhook in Feedkeeper's, Slack's or Teams' format."""

    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook (JSON)"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class Channel(models.Model):
    """Where notifications go: e-mail addresses or an incoming-webhook URL (``target``, encrypted: webhook URLs
    carry their secret in the path or query; ``target_fingerprint`` names it). ``events`` lists what the channel
    wants; ``feeds`` and ``targets``, when any is chosen, limit it to events about them. ``digest`` (e-mail only)
    adds the daily digest."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = EncryptedTextField()
    target_fingerprint = models.CharField(max_length=16)
    events = models.JSONField(default=list, blank=True)
    feeds = models.ManyToManyField("feeds.Feed", blank=True, related_name="+")
    targets = models.ManyToManyField("targets.Target", blank=True, related_name="+")
    digest = models.BooleanField(default=False, help_text="E-mail only: also send the daily digest.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_target(self, value: str) -> None:
        self.target = crypto.encrypt(value)
        self.target_fingerprint = crypto.fingerprint(value)

    def reveal_target(self) -> str:
        """The addresses or the webhook URL in plaintext; only the sender calls this."""
        return crypto.decrypt(self.target)

    def wants(self, event: str, *, feed_ids: set[int], target_ids: set[int]) -> bool:
        """Whether an ``event`` about these feeds and targets goes to this channel (prefetch ``feeds``/``targets``).
        Without any feed or target chosen the channel hears about everything; with some, about those only."""
        if event not in self.events:
            return False
        chosen_feeds = {f.pk for f in self.feeds.all()}
        chosen_targets = {t.pk for t in self.targets.all()}
        if not chosen_feeds and not chosen_targets:
            return True
        return bool(chosen_feeds & feed_ids or chosen_targets & target_ids)


class NotificationStatus(models.TextChoices):
    """``pending`` until sent; ``failed`` after a permanent error or ``NOTIFICATION_MAX_ATTEMPTS`` attempts."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(models.Model):
    """One message to one recipient (a channel, or a user's e-mail subscription) about one thing: ``event`` about
    the object (``object_type``, ``object_id``), ``key`` naming the occurrence (a token's fingerprint and
    threshold, a push, a health check). Unique on (event, object, key, recipient), so no cause is told twice.

    Delivery: a worker claims a pending row whose ``next_attempt_at`` has come by setting ``lease_until`` (a
    conditional update); the outcome is written only while that lease is still its own. A send that died with its
    worker is claimed again once the lease ran out."""

    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.CharField(max_length=40, help_text="channel:<id> or user:<id>.")
    event = models.CharField(max_length=32, choices=RECORD_EVENTS)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    object_name = models.CharField(max_length=200, blank=True)
    object_url = models.CharField(max_length=500, blank=True)
    key = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    text = models.TextField()
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "object_type", "object_id", "key", "recipient"], name="one_notification_per_cause"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notif_status_next_idx")]

    def __str__(self) -> str:
        return f"{self.event} about {self.object_type} {self.object_id} to {self.recipient}: {self.status}"


class Subscription(models.Model):
    """A user's e-mail opt-in: the events (of :data:`FEED_EVENTS`) of the feeds they own, sent to their own
    address. Feeds have no owner column; the feeds a user marks here are the ones they own. ``digest`` adds the
    daily digest of those feeds."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    events = models.JSONField(default=list, blank=True)
    feeds = models.ManyToManyField("feeds.Feed", blank=True, related_name="+")
    digest = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"subscription of user {self.user_id}"
