"""Primary rate limit of the GitHub simulator (GitHub REST docs: "Rate limits for the REST API").

One ``core`` bucket per user (GitHub counts all of a user's tokens together): ``limit`` requests per
``window`` seconds, the window starting with the user's first request. Every answer carries the
``x-ratelimit-*`` headers; an exhausted bucket answers 403 with ``x-ratelimit-remaining: 0``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ANONYMOUS_LIMIT = 60  # unauthenticated requests, per hour


@dataclass
class RateView:
    """The state of one bucket, as the headers show it."""

    limit: int
    remaining: int
    used: int
    reset: int
    resource: str = "core"

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit``, ``-Remaining``, ``-Used``, ``-Reset`` (epoch seconds) and ``-Resource``."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Resource": self.resource,
        }

    def body(self) -> dict[str, int]:
        """One entry of ``GET /rate_limit``."""
        return {"limit": self.limit, "used": self.used, "remaining": self.remaining, "reset": self.reset}


class RateLimiter:
    """Thread-safe fixed-window counters keyed by user (or ``anonymous``)."""

    def __init__(self, limit: int = 5000, window: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = int(limit)
        self.window = float(window)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # key -> [window start, used]

    def _bucket(self, key: str) -> list[float]:
        moment = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None or moment >= bucket[0] + self.window:
            bucket = self._buckets[key] = [moment, 0]
        return bucket

    def _view(self, bucket: list[float], limit: int) -> RateView:
        used = int(bucket[1])
        return RateView(limit, max(0, limit - used), used, math.ceil(bucket[0] + self.window))

    def _limit(self, key: str) -> int:
        return ANONYMOUS_LIMIT if key == "anonymous" else self.limit

    def consume(self, key: str, refuse: bool = True) -> tuple[bool, RateView]:
        """Count one request; (False, view) when the bucket was already empty (nothing counted then)."""
        with self._lock:
            bucket, limit = self._bucket(key), self._limit(key)
            if bucket[1] >= limit:
                return not refuse, self._view(bucket, limit)
            bucket[1] += 1
            return True, self._view(bucket, limit)

    def peek(self, key: str) -> RateView:
        """The bucket's state without counting."""
        with self._lock:
            return self._view(self._bucket(key), self._limit(key))

    def set_used(self, key: str, used: int) -> RateView:
        """Pretend ``used`` requests were made in the current window (``used=limit`` exhausts it)."""
        with self._lock:
            bucket = self._bucket(key)
            bucket[1] = max(0, int(used))
            return self._view(bucket, self._limit(key))

    def configure(self, limit: int | None = None, window: float | None = None) -> None:
        """Change the limit and/or window; counters start afresh."""
        with self._lock:
            if limit is not None:
                self.limit = max(1, int(limit))
            if window is not None and window > 0:
                self.window = float(window)
            self._buckets.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON view for ``/_sim/state``."""
        with self._lock:
            return {
                "limit": self.limit,
                "window": self.window,
                "buckets": {k: self._view(b, self._limit(k)).body() for k, b in self._buckets.items()},
            }
