"""The one backoff function: exponential growth, half jitter, a cap, and Retry-After honoured but capped."""

from __future__ import annotations

import random

import pytest

from core.backoff import backoff


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_the_delay_doubles_per_attempt_with_half_jitter(attempt: int) -> None:
    full = 0.5 * 2 ** (attempt - 1)
    delays = [backoff(attempt, base=0.5, cap=100) for _ in range(200)]
    assert all(full / 2 <= d <= full for d in delays)
    assert max(delays) - min(delays) > full / 10  # jittered, not constant


def test_the_delay_never_exceeds_the_cap_even_for_huge_attempts() -> None:
    assert all(5 <= backoff(a, base=1, cap=10) <= 10 for a in (5, 10, 64, 1000, 10**9))


def test_attempt_zero_or_negative_counts_as_the_first() -> None:
    assert all(1 <= backoff(a, base=2, cap=60) <= 2 for a in (0, -3))


def test_retry_after_wins_over_the_exponential_delay_and_is_capped() -> None:
    assert all(30 <= backoff(1, base=1, cap=300, retry_after=30) <= 30.5 for _ in range(100))
    assert backoff(6, base=1, cap=300, retry_after=0) <= 0.5  # "now" means now, whatever the attempt
    assert backoff(1, base=1, cap=20, retry_after=3600) == 20
    assert 0 <= backoff(1, base=1, cap=20, retry_after=-5) <= 0.5


def test_jitter_spreads_a_crowd_told_the_same_retry_after() -> None:
    random.seed(1)
    delays = {round(backoff(1, base=2, cap=60, retry_after=5), 6) for _ in range(50)}
    assert len(delays) > 40 and all(5 <= d <= 6 for d in delays)
    assert all(5 <= backoff(1, base=30, cap=60, retry_after=5) <= 6 for _ in range(100))  # a second at most


def test_a_zero_cap_means_no_wait() -> None:
    assert backoff(3, base=1, cap=0) == 0
    assert backoff(3, base=1, cap=0, retry_after=10) == 0
