"""Every credential Feedkeeper holds, by soonest expiry: feed tokens and the credentials targets sign in with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F

from dashboard.links import Links
from feeds.models import ExpiryStatus, Feed
from targets.models import Target


@dataclass(frozen=True)
class ExpiryRow:
    """One credential: what it belongs to (a feed or a target), its fingerprint, when it expires and its status."""

    kind: str  # "feed" or "target"
    obj: Any
    fingerprint: str
    expires_at: datetime | None
    status: str
    rotates: bool  # something renews it on a schedule (a rotation connection, or the target's own rotation)
    next_rotation_at: datetime | None
    url: str = ""  # the feed's or target's page

    @property
    def needs_attention(self) -> bool:
        return self.status in (ExpiryStatus.EXPIRED, ExpiryStatus.EXPIRING)


def credentials_by_expiry(limit: int | None = None) -> list[ExpiryRow]:
    """Feed tokens and target credentials, soonest expiry first; those with no known expiry last, by name. Two
    queries, whatever the number of rows; with ``limit``, only the ``limit`` soonest are read (each query is cut in
    the database), so the page does not read every feed and target to show twenty."""
    feeds = Feed.objects.select_related("current_token").filter(current_token__isnull=False)
    # Only what a row shows: a target's settings and caches may be large.
    targets = Target.objects.only(
        "id",
        "name",
        "kind",
        "credential_fingerprint",
        "credential_expires_at",
        "credential_rotation_days",
        "credential_next_rotation_at",
    )
    if limit is not None:
        feeds = feeds.order_by(F("current_token__expires_at").asc(nulls_last=True), "name", "id")[:limit]
        targets = targets.order_by(F("credential_expires_at").asc(nulls_last=True), "name", "id")[:limit]
    link = Links()
    rows = [
        ExpiryRow(
            "feed",
            feed,
            feed.fingerprint,
            feed.token_expires_at,
            feed.expiry_status(),
            feed.rotation_connection_id is not None,
            feed.next_rotation_at,
            link("feeds:detail", feed.pk),
        )
        for feed in feeds
    ]
    rows.extend(
        ExpiryRow(
            "target",
            target,
            target.credential_fingerprint,
            target.credential_expires_at,
            target.credential_expiry_status(),
            bool(target.credential_rotation_days),
            target.credential_next_rotation_at,
            link("targets:detail", target.pk),
        )
        for target in targets
    )
    rows.sort(key=lambda r: (r.expires_at is None, r.expires_at.timestamp() if r.expires_at else 0, str(r.obj)))
    return rows if limit is None else rows[:limit]
