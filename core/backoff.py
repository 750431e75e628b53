"""One backoff function for every retry in Feedkeeper: platform calls, pushes, and database conflicts.

The delay grows exponentially from ``base`` and never exceeds ``cap``. It carries *half jitter*: the delay is drawn
from ``[d/2, d]``, so callers that failed together spread out, yet nobody retries almost at once after a failure
that asked for patience. A server's ``Retry-After`` wins over the exponential delay, capped at ``cap``, plus a
little jitter (at most half of ``base``, and at most a second) so a crowd told "retry in 5 s" does not come back in
the same millisecond.
"""

from __future__ import annotations

import random

# 2**62 times any sensible base is already far above any cap; clamping the exponent avoids float overflow.
_MAX_EXPONENT = 62
# A server that named its wait is obeyed closely.
_MAX_RETRY_AFTER_JITTER = 1.0


def backoff(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1 for the first failure).

    Without ``retry_after``: ``min(cap, base * 2 ** (attempt - 1))`` with half jitter. With it: ``retry_after``
    (negative counts as 0) capped at ``cap``, plus up to ``min(base / 2, 1)`` of jitter, never above ``cap``."""
    cap = max(cap, 0.0)
    base = max(base, 0.0)
    if retry_after is not None:
        wait = min(max(retry_after, 0.0), cap)
        return min(cap, wait + random.uniform(0.0, min(base / 2, _MAX_RETRY_AFTER_JITTER)))
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    delay = min(cap, base * 2.0**exponent)
    return random.uniform(delay / 2, delay)
