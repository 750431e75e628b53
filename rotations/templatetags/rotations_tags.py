"""Template helpers for the rotation pages and the "Rotation" section of a feed's page (the feeds app never
imports rotations: its page loads this library)."""

from __future__ import annotations

from typing import Any

from django import template

from feeds.models import Feed
from rotations.dependents import feed_dependents
from rotations.models import Rotation
from rotations.services import running_rotation

register = template.Library()

RECENT = 5

STATUS_LABELS = {"rolled_back": "rolled back", "needs_consent": "needs consent"}


@register.simple_tag
def feed_rotation(feed: Feed) -> dict[str, Any]:
    """A feed's rotation summary: its connection, the running rotation, the last few, and its dependents."""
    return {
        "connection": feed.rotation_connection,
        "running": running_rotation(feed),
        "recent": list(Rotation.objects.filter(feed=feed).order_by("-created_at", "-id")[:RECENT]),
        "dependents": feed_dependents(feed),
    }


@register.filter
def status_label(status: str | None) -> str:
    """A status value in words (``rolled_back`` → ``rolled back``)."""
    value = str(status or "")
    return STATUS_LABELS.get(value, value.replace("_", " "))
