"""Template context: how many things need attention, for the navigation. Counted lazily (only when a page shows
the navigation) with a few COUNT queries, once per request."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from core.roles import VIEWER, has_role


class NavCounts:
    """``total`` (the overview's "needs attention" list), ``targets`` (in warning or failing) and ``deliveries``
    (failed or stale), the same definitions as :func:`dashboard.overview.attention`."""

    def __init__(self, by_reason: dict[str, int] | None = None) -> None:
        if by_reason is not None:
            self.__dict__["by_reason"] = by_reason

    @cached_property
    def by_reason(self) -> dict[str, int]:
        from dashboard.overview import attention_counts

        return attention_counts()

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    @property
    def targets(self) -> int:
        return self.by_reason["target"]

    @property
    def deliveries(self) -> int:
        return self.by_reason["delivery"]

    @property
    def rotations(self) -> int:
        return self.by_reason["rotation"]


def set_nav_counts(request: HttpRequest, by_reason: dict[str, int]) -> None:
    """A page that has counted already (the overview) hands its counts to the navigation."""
    request._nav_counts = NavCounts(by_reason)  # type: ignore[attr-defined]


def nav_counts(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not has_role(user, VIEWER):
        return {}
    counts = getattr(request, "_nav_counts", None)
    if counts is None:
        counts = NavCounts()
        request._nav_counts = counts  # type: ignore[attr-defined]
    return {"nav_counts": counts}
