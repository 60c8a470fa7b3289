"""Retry policy: what happens to a target after an attempt ends.

How attempts are counted: ``max_attempts`` counts every call that uses an attempt,
the first one included. A disposition whose rule has ``uses_attempt=False`` (carrier
capacity, for example) is not charged; such retries are limited separately by
``max_free_retries``. The caller passes ``attempts_used`` with the attempt that just
ended already included when its rule uses an attempt, and ``free_retries_used`` as
the free retries granted before this decision. A retry that uses an attempt is
allowed while ``attempts_used < max_attempts``; a free retry while
``free_retries_used < max_free_retries``.

``retry_at`` is the earliest time for the next call before calling hours are
applied; the scheduler moves it to the next instant the target may be called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from callfleet.campaigns.settings import Disposition, RetryPolicy, RetryRule

# Keeps multiplier ** exponent a finite float; the cap applies long before this.
_MAX_EXPONENT = 100


@dataclass(frozen=True, slots=True)
class RetryDecision:
    final: bool
    retry_at: datetime | None
    uses_attempt: bool
    reason: str


def decide(
    policy: RetryPolicy,
    disposition: Disposition | str,
    *,
    attempts_used: int,
    free_retries_used: int,
    same_disposition_streak: int,
    now: datetime,
) -> RetryDecision:
    """Decide whether a target gets another attempt and when.

    ``same_disposition_streak`` is how many attempts in a row, this one included,
    ended with ``disposition``; it drives exponential backoff.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    rule = policy.rule(Disposition(disposition))

    if rule.final:
        return RetryDecision(True, None, rule.uses_attempt, "final_disposition")
    if rule.uses_attempt and attempts_used >= policy.max_attempts:
        return RetryDecision(True, None, True, "max_attempts_reached")
    if not rule.uses_attempt and free_retries_used >= policy.max_free_retries:
        return RetryDecision(True, None, False, "max_free_retries_reached")

    delay = retry_delay(rule, same_disposition_streak)
    return RetryDecision(False, now + delay, rule.uses_attempt, "retry")


def retry_delay(rule: RetryRule, streak: int) -> timedelta:
    """The wait before the next attempt after ``streak`` same dispositions in a row.

    Fixed backoff always waits ``delay_minutes``. Exponential backoff waits
    ``delay_minutes * multiplier ** (streak - 1)``, capped at ``max_delay_minutes``
    (but never below ``delay_minutes`` itself).
    """
    minutes = rule.delay_minutes
    if rule.backoff == "exponential":
        exponent = min(max(streak, 1) - 1, _MAX_EXPONENT)
        cap = max(rule.max_delay_minutes, rule.delay_minutes)
        minutes = min(minutes * rule.multiplier**exponent, cap)
    return timedelta(minutes=minutes)
