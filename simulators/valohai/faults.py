"""Fault injection for the Valohai simulator: counted rules and a seeded random fault rate."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

HANG_STATUSES = ("timeout", "commit_then_timeout")
NAMED_STATUSES = (*HANG_STATUSES, "reset")


@dataclass
class FaultRule:
    """One injected fault: ``count`` times (``None`` = forever) for requests matching path and method."""

    status: int | str
    count: int | None = 1
    path_contains: str | None = None
    method: str | None = None
    retry_after: int | None = None
    hang: float = 30.0

    def matches(self, method: str, path: str) -> bool:
        """True when this rule still has uses left and applies to ``method`` ``path``."""
        if self.count is not None and self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_contains or self.path_contains in path


@dataclass
class RandomFaults:
    """Answer a random share of matching requests with one of ``statuses``."""

    probability: float
    statuses: tuple[int | str, ...]
    path_contains: str | None = None
    method: str | None = None
    retry_after: int | None = 1
    hang: float = 30.0


def check_status(status: Any) -> int | str:
    """Validate a fault status: an HTTP error code (400-599) or one of :data:`NAMED_STATUSES`."""
    if isinstance(status, str) and status in NAMED_STATUSES:
        return status
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        return status
    raise ValueError(f"fault status must be 400-599 or one of {', '.join(NAMED_STATUSES)}; got {status!r}")


class Faults:
    """The simulator's fault table. ``add`` queues counted faults (first match wins); ``rate`` adds random ones.

    Statuses: any 4xx/5xx code; ``"timeout"`` (hang ``hang`` seconds, then drop the connection unanswered);
    ``"commit_then_timeout"`` (apply the request, then hang and drop: a response lost after the write);
    ``"reset"`` (drop the connection at once).
    """

    def __init__(self, lock: threading.RLock | None = None, seed: int | None = 0) -> None:
        self._lock = lock or threading.RLock()
        self._rules: list[FaultRule] = []
        self._random: RandomFaults | None = None
        self._rng = random.Random(seed)
        self.injected: list[tuple[str, str, int | str]] = []

    def add(
        self,
        status: int | str,
        count: int | None = 1,
        path_contains: str | None = None,
        method: str | None = None,
        retry_after: int | None = None,
        hang: float = 30.0,
    ) -> FaultRule:
        """Queue a fault for the next ``count`` matching requests and return its rule."""
        rule = FaultRule(
            status=check_status(status),
            count=count,
            path_contains=path_contains,
            method=method.upper() if method else None,
            retry_after=retry_after,
            hang=float(hang),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def rate(
        self,
        probability: float,
        statuses: tuple[int | str, ...] | list[int | str] = (429, 500, 503),
        path_contains: str | None = None,
        method: str | None = None,
        retry_after: int | None = 1,
        hang: float = 30.0,
        seed: int | None = None,
    ) -> None:
        """Fail ``probability`` (0..1) of matching requests with a random pick of ``statuses``; 0 turns it off."""
        if not 0 <= probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        checked = tuple(check_status(s) for s in statuses)
        if not checked:
            raise ValueError("statuses must not be empty")
        with self._lock:
            if seed is not None:
                self._rng.seed(seed)
            self._random = (
                RandomFaults(
                    probability, checked, path_contains, method.upper() if method else None, retry_after, float(hang)
                )
                if probability > 0
                else None
            )

    def clear(self) -> None:
        """Remove every queued rule and the random rate."""
        with self._lock:
            self._rules.clear()
            self._random = None

    def pick(self, method: str, path: str) -> FaultRule | None:
        """Consume and return the fault for this request, or None to serve it normally."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.count is not None:
                        rule.count -= 1
                    self._rules = [r for r in self._rules if r.count is None or r.count > 0]
                    self.injected.append((method, path, rule.status))
                    return rule
            chance = self._random
            if chance is None:
                return None
            probe = FaultRule(status=0, count=None, path_contains=chance.path_contains, method=chance.method)
            if not probe.matches(method, path) or self._rng.random() >= chance.probability:
                return None
            status = self._rng.choice(chance.statuses)
            self.injected.append((method, path, status))
            return FaultRule(status=status, count=1, retry_after=chance.retry_after, hang=chance.hang)

    def pending(self) -> int:
        """How many counted faults are still queued (rules with ``count=None`` count once)."""
        with self._lock:
            return sum(1 if r.count is None else r.count for r in self._rules)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able view for ``GET /_sim/state``."""
        with self._lock:
            return {
                "rules": [asdict(r) for r in self._rules],
                "rate": asdict(self._random) if self._random else None,
                "injected": [list(i) for i in self.injected],
            }
