"""Token-bucket rate limits keyed by anything hashable (campaign, caller id,
provider). Pure: the current time is passed in, nothing sleeps."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Float refills can land a hair under a whole token at the instant next_free
# promised; this slack keeps the two methods consistent.
_EPSILON = 1e-9
# Full buckets carry no state worth keeping; they are dropped past this many keys.
_PRUNE_ABOVE = 10_000


@dataclass(slots=True)
class _Bucket:
    rate_per_s: float
    burst: float
    tokens: float
    updated: datetime


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _check_limits(rate_per_s: float, burst: float) -> None:
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s!r}")
    if not burst >= 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")


class RateLimiter:
    """At most ``burst`` acquisitions at once per key, refilled at ``rate_per_s``.

    A key starts with a full bucket. ``configure`` gives one key its own limits
    (each campaign its own calls per second, for example).
    """

    def __init__(self, rate_per_s: float, burst: float = 1.0) -> None:
        _check_limits(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._limits: dict[Hashable, tuple[float, float]] = {}
        self._buckets: dict[Hashable, _Bucket] = {}
        self._prune_at = _PRUNE_ABOVE

    def configure(self, key: Hashable, rate_per_s: float, burst: float = 1.0) -> None:
        """Set the limits of one key; tokens already in its bucket are kept."""
        _check_limits(rate_per_s, burst)
        self._limits[key] = (rate_per_s, burst)
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.rate_per_s = rate_per_s
            bucket.burst = burst
            bucket.tokens = min(bucket.tokens, burst)

    def try_acquire(self, key: Hashable, now: datetime) -> bool:
        """Take one token for ``key`` if there is one."""
        bucket = self._refilled(key, now)
        if bucket.tokens + _EPSILON < 1:
            return False
        bucket.tokens = max(bucket.tokens - 1, 0.0)
        return True

    def next_free(self, key: Hashable, now: datetime) -> datetime:
        """The earliest instant at or after ``now`` when ``try_acquire`` succeeds."""
        bucket = self._refilled(key, now)
        missing = 1 - bucket.tokens
        if missing <= _EPSILON:
            return now
        microseconds = math.ceil(missing / bucket.rate_per_s * 1_000_000)
        return now + timedelta(microseconds=microseconds)

    def _refilled(self, key: Hashable, now: datetime) -> _Bucket:
        _check_aware(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            rate_per_s, burst = self._limits.get(key, (self.rate_per_s, self.burst))
            bucket = _Bucket(rate_per_s, burst, burst, now)
            self._buckets[key] = bucket
            return bucket

        # A clock that steps back must not mint tokens; it just refills nothing.
        elapsed = (now - bucket.updated).total_seconds()
        if elapsed > 0:
            bucket.tokens = min(
                bucket.burst, bucket.tokens + elapsed * bucket.rate_per_s
            )
            bucket.updated = now
        return bucket

    def _prune(self, now: datetime) -> None:
        for key in list(self._buckets):
            bucket = self._buckets[key]
            elapsed = (now - bucket.updated).total_seconds()
            if bucket.tokens + max(elapsed, 0) * bucket.rate_per_s >= bucket.burst:
                del self._buckets[key]
        # Busy keys that cannot be dropped must not make every new key pay a scan.
        self._prune_at = max(_PRUNE_ABOVE, 2 * len(self._buckets))
