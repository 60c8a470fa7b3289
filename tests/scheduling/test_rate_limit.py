from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callfleet.scheduling.rate_limit import RateLimiter

T0 = datetime(2026, 1, 5, 15, tzinfo=UTC)


def test_burst_then_refill() -> None:
    limiter = RateLimiter(rate_per_s=2, burst=3)

    assert [limiter.try_acquire("c1", T0) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.next_free("c1", T0) == T0 + timedelta(milliseconds=500)
    assert not limiter.try_acquire("c1", T0 + timedelta(milliseconds=499))
    assert limiter.try_acquire("c1", T0 + timedelta(milliseconds=500))


def test_keys_are_independent() -> None:
    limiter = RateLimiter(rate_per_s=1)

    assert limiter.try_acquire("campaign-a", T0)
    assert not limiter.try_acquire("campaign-a", T0)
    assert limiter.try_acquire("campaign-b", T0)
    assert limiter.try_acquire(("caller", "+12015550100"), T0)


def test_next_free_is_now_when_a_token_is_there() -> None:
    limiter = RateLimiter(rate_per_s=1)

    assert limiter.next_free("k", T0) == T0


def test_tokens_do_not_pile_up_beyond_burst() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=2)
    later = T0 + timedelta(hours=1)

    granted = [limiter.try_acquire("k", later) for _ in range(3)]

    assert granted == [True, True, False]


def test_configured_key_has_its_own_rate() -> None:
    limiter = RateLimiter(rate_per_s=1)
    limiter.configure("fast", rate_per_s=10, burst=1)

    assert limiter.try_acquire("fast", T0)
    assert limiter.next_free("fast", T0) == T0 + timedelta(milliseconds=100)
    assert limiter.try_acquire("slow", T0)
    assert limiter.next_free("slow", T0) == T0 + timedelta(seconds=1)


def test_clock_stepping_back_mints_no_tokens() -> None:
    limiter = RateLimiter(rate_per_s=1)

    assert limiter.try_acquire("k", T0)
    assert not limiter.try_acquire("k", T0 - timedelta(seconds=5))
    assert limiter.try_acquire("k", T0 + timedelta(seconds=1))


def test_invalid_limits_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate_per_s=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(rate_per_s=1, burst=0.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        RateLimiter(rate_per_s=1).try_acquire("k", datetime(2026, 1, 5))


@given(
    rate=st.floats(0.05, 50),
    burst=st.integers(1, 5),
    gaps_ms=st.lists(st.integers(0, 3000), min_size=1, max_size=60),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps_ms: list[int]
) -> None:
    limiter = RateLimiter(rate_per_s=rate, burst=burst)
    now = T0
    granted = 0

    for gap in gaps_ms:
        now += timedelta(milliseconds=gap)
        free_at = limiter.next_free("k", now)
        acquired = limiter.try_acquire("k", now)
        # next_free and try_acquire agree, and waiting until next_free works.
        assert acquired == (free_at == now)
        if not acquired:
            assert limiter.try_acquire("k", free_at)
            now = free_at
        granted += 1

    elapsed = (now - T0).total_seconds()
    assert granted <= burst + rate * elapsed + 1e-6


def test_limits_hold_across_many_keys() -> None:
    limiter = RateLimiter(rate_per_s=1)
    for n in range(25_000):
        assert limiter.try_acquire(n, T0)

    later = T0 + timedelta(milliseconds=500)
    assert not limiter.try_acquire(24_999, later)
    assert limiter.try_acquire("new", later)

    much_later = T0 + timedelta(seconds=5)
    assert limiter.try_acquire(0, much_later)
    assert not limiter.try_acquire(0, much_later)
