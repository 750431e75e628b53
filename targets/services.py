"""Target and delivery workflows."""

from typing import Any


def deliveries_mark_stale(*, feed: Any, actor: Any) -> int:
    """Mark every delivery of ``feed`` stale and enqueue its push. Returns how many were marked."""
    return 0


def feed_push_all(*, actor: Any, feed: Any) -> list[Any]:
    """Push every delivery of ``feed``; returns the push records."""
    return []
