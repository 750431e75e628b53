"""Target health, in one place for the models, the adapters' health checks and the check lifecycle: the statuses a
health check, a finished target check and a target's ``health`` take, and how results add up."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


class Health(models.TextChoices):
    """A health result, a finished target check, or a target's health (``unknown`` until first checked)."""

    OK = "ok"
    WARNING = "warning"
    FAILING = "failing"
    UNKNOWN = "unknown"


_RANK: dict[str, int] = {Health.OK: 0, Health.UNKNOWN: 1, Health.WARNING: 1, Health.FAILING: 2}


def overall(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (an unknown status counts as failing); ``warning`` when there are none, since a
    check that checked nothing proves nothing."""
    statuses = list(statuses)
    if not statuses:
        return Health.WARNING
    worst = max(statuses, key=lambda s: _RANK.get(s, 2))
    return Health.OK if worst == Health.OK else worst
