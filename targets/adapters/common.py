"""Health checks shared by every adapter."""

from __future__ import annotations

from typing import Any

from feeds.models import CheckStatus
from targets.adapters.base import HealthResult
from targets.health import Health

# The health statuses adapters report, by their short names.
OK, WARNING, FAILING = Health.OK, Health.WARNING, Health.FAILING


def feed_checks(deliveries: list[Any]) -> list[HealthResult]:
    """Whether each delivered feed itself accepts its token (its latest credential check): a pushed URL with a
    dead token fails only inside the platform's jobs, which no platform API reports (docs/platforms.md §5)."""
    out = []
    for feed in {d.feed_id: d.feed for d in deliveries}.values():
        check = feed.last_check()
        name = f"feed {feed.name} accepts its token"
        if check is None or not check.is_final:
            out.append(HealthResult(name, WARNING, "Not checked yet."))
        elif check.status == CheckStatus.OK:
            out.append(HealthResult(name, OK, f"Checked {check.finished_at:%Y-%m-%d %H:%M}."))
        else:
            out.append(HealthResult(name, FAILING, f"{check.status}: {check.detail}"))
    return out
