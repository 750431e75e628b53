"""How targets follow the feeds they deliver, registered into :mod:`feeds.hooks` by :class:`TargetsConfig`:
a changed credential makes the feed's deliveries stale (and pushes them again), deleting a feed names its
deliveries, and "push this feed" pushes every delivery of it."""

from __future__ import annotations

from typing import Any

from feeds import hooks

MAX_LISTED = 50


def credential_changed(feed: Any, *, actor: Any) -> None:
    """Mark the feed's deliveries stale and request their pushes."""
    from targets.services import deliveries_mark_stale

    deliveries_mark_stale(feed=feed, actor=actor)


def dependents(feed: Any) -> list[tuple[str, list[str]]]:
    """The feed's deliveries (at most :data:`MAX_LISTED` of them), named as the pages name them."""
    from targets.models import Delivery

    items = [str(d) for d in Delivery.objects.filter(feed=feed).select_related("feed", "target")[:MAX_LISTED]]
    return [(str(Delivery._meta.verbose_name_plural), items)]


def push_all(feed: Any, *, actor: Any, restart_consent: bool = False) -> list[Any]:
    """Push every delivery of the feed now; the push records."""
    from targets.services import feed_push_all

    return feed_push_all(actor=actor, feed=feed, restart_consent=restart_consent)


def register() -> None:
    """Register the hooks above (idempotent)."""
    hooks.register(hooks.on_credential_changed, credential_changed)
    hooks.register(hooks.dependents_providers, dependents)
    hooks.register(hooks.push_all, push_all)
