"""What holds or reads a feed's token: the blast radius of a rotation, from each target's adapter."""

from __future__ import annotations

import logging
from typing import Any

from feeds.models import Feed

log = logging.getLogger(__name__)


def feed_dependents(feed: Feed) -> list[dict[str, Any]]:
    """``[{"target", "target_name", "delivery", "place", "fingerprint", "current", "needs_restart"}]`` for every
    place of every delivery of ``feed``, from what Feedkeeper recorded (no platform call)."""
    from targets.models import Delivery

    rows: list[dict[str, Any]] = []
    current = feed.fingerprint
    deliveries = (
        Delivery.objects.filter(feed=feed)
        .select_related("target", "feed__current_token")
        .order_by("target__name", "id")
    )
    for delivery in deliveries:
        for place in delivery.target.adapter_class.places(delivery):
            rows.append(
                {
                    "target": delivery.target_id,
                    "target_name": delivery.target.name,
                    "delivery": delivery.pk,
                    "place": place.place,
                    "fingerprint": place.fingerprint,
                    "current": bool(place.fingerprint) and place.fingerprint == current,
                    "needs_restart": place.needs_restart,
                }
            )
    return rows


def still_reading_old_value(feed: Feed) -> list[str]:
    """What still runs with a value older than the one delivered now, target by target (asks the platforms)."""
    from targets.models import Delivery

    by_target: dict[int, list[Any]] = {}
    for delivery in Delivery.objects.filter(feed=feed).select_related("target", "feed__current_token"):
        by_target.setdefault(delivery.target_id, []).append(delivery)
    found: list[str] = []
    for deliveries in by_target.values():
        target = deliveries[0].target
        found.extend(f"{target.name}: {name}" for name in target.adapter().old_value_readers(deliveries))
    return found


def restart_old_value_readers(feed: Feed) -> list[str]:
    """Restart what still runs with an older value of the feed's token, target by target (an operator consented);
    one line per restart or failure, prefixed with the target's name."""
    from targets.adapters import AdapterError
    from targets.models import Delivery

    by_target: dict[int, list[Any]] = {}
    for delivery in Delivery.objects.filter(feed=feed).select_related("target", "feed__current_token"):
        by_target.setdefault(delivery.target_id, []).append(delivery)
    done: list[str] = []
    for deliveries in by_target.values():
        target = deliveries[0].target
        try:
            done.extend(f"{target.name}: {line}" for line in target.adapter().restart_old_value_readers(deliveries))
        except AdapterError as exc:
            done.append(f"{target.name}: could not list its clusters: {exc}")
    return done
