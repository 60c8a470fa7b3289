"""What happens to a target between attempts: when it may be called, and its next
step after an attempt ends. Pure: plain values in, plain values out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import phonenumbers

from callfleet.campaigns.settings import (
    CampaignSettings,
    Disposition,
    OperatingHours,
)
from callfleet.scheduling import retry_policy
from callfleet.scheduling.calling_hours import CallingHours, hours_for_target
from callfleet.targets.status import TargetStatus

SLA_EXPIRED = "SLA_EXPIRED"
NO_OPERATING_HOURS = "NO_OPERATING_HOURS"
BLACKLISTED_PHONE = "BLACKLISTED_PHONE"

# Dispositions after which the callee was reached and the attempt counts as done.
_REACHED = frozenset({Disposition.COMPLETED, Disposition.TRANSFERRED})


@lru_cache(maxsize=65_536)
def is_geographic(phone_e164: str) -> bool:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_number_geographical(number)


def zones_for(
    settings: CampaignSettings,
    phone_e164: str,
    timezones: Sequence[str] | None,
    input_data: Mapping[str, Any] | None,
) -> list[str]:
    """The zones whose calling hours apply to a target.

    An explicit ``input_data.timezone`` wins. A number that is not geographic (toll
    free and the like) is given every zone of its country by libphonenumber; those
    never share a calling window, so such a number takes the campaign's zone.
    """
    campaign_zone = settings.calling_hours.tz
    if settings.timezone_policy == "campaign":
        return [campaign_zone]
    explicit = (input_data or {}).get("timezone")
    if isinstance(explicit, str) and explicit.strip():
        return [explicit.strip()]
    if not timezones or not is_geographic(phone_e164):
        return [campaign_zone]
    return list(timezones)


def target_hours(
    settings: CampaignSettings,
    phone_e164: str,
    timezones: Sequence[str] | None,
    input_data: Mapping[str, Any] | None,
    operating_hours: Mapping[str, Any] | None,
) -> CallingHours:
    """The calling hours of one target: its number's own operating hours, else the
    campaign's hours in the target's zones."""
    own = OperatingHours.model_validate(operating_hours) if operating_hours else None
    zones = zones_for(settings, phone_e164, timezones, input_data)
    return hours_for_target(settings.calling_hours, own, zones)


def next_allowed(
    hours: CallingHours, earliest: datetime, deadline: datetime | None
) -> tuple[datetime | None, str | None]:
    """The first instant at or after ``earliest`` the target may be called, before
    its deadline; or None and the category that says why there is none."""
    if deadline is not None and earliest >= deadline:
        return None, SLA_EXPIRED
    when = hours.next_open(earliest, until=deadline)
    if when is not None:
        return when, None
    if deadline is not None and hours.next_open(earliest) is not None:
        return None, SLA_EXPIRED
    return None, NO_OPERATING_HOURS


@dataclass(frozen=True, slots=True)
class TargetCounters:
    """A target's attempt bookkeeping as it stood when the attempt was claimed
    (``attempt`` already counts the attempt that just ended)."""

    attempt: int
    max_attempts: int
    free_retries: int
    disposition_streak: int
    last_disposition: str | None
    deadline_at: datetime | None


@dataclass(frozen=True, slots=True)
class NextStep:
    status: TargetStatus
    attempt: int
    free_retries: int
    disposition_streak: int
    next_attempt_at: datetime | None
    reason: str
    category: str | None = None  # set only when the step overrides the analysis

    @property
    def final(self) -> bool:
        return self.next_attempt_at is None


def after_attempt(
    settings: CampaignSettings,
    counters: TargetCounters,
    disposition: Disposition | str,
    *,
    hours: CallingHours,
    now: datetime,
    review_required: bool,
    has_data: bool,
    may_retry: bool,
) -> NextStep:
    """The target's next step after an attempt ended with ``disposition``.

    ``may_retry`` is False when the target or its campaign was cancelled: the
    attempt's result stands but no further call follows.
    """
    disposition = Disposition(disposition)
    policy = settings.retry_policy
    if policy.max_attempts != counters.max_attempts:
        policy = policy.model_copy(update={"max_attempts": counters.max_attempts})
    rule = policy.rule(disposition)

    attempt, free_retries = counters.attempt, counters.free_retries
    if not rule.uses_attempt:
        # The attempt was charged at claim time; this disposition does not use one.
        attempt = max(attempt - 1, 0)
        free_used = free_retries
        free_retries += 1
    else:
        free_used = free_retries
    streak = (
        counters.disposition_streak + 1
        if counters.last_disposition == disposition.value
        else 1
    )

    def final(reason: str, category: str | None = None) -> NextStep:
        if category is None and (disposition in _REACHED or has_data):
            status = (
                TargetStatus.TO_REVIEW if review_required else TargetStatus.FINISHED
            )
        else:
            status = TargetStatus.FAILED
        return NextStep(status, attempt, free_retries, streak, None, reason, category)

    decision = retry_policy.decide(
        policy,
        disposition,
        attempts_used=attempt,
        free_retries_used=free_used,
        same_disposition_streak=streak,
        now=now,
    )
    if decision.final:
        return final(decision.reason)
    if not may_retry:
        return final("cancelled")

    assert decision.retry_at is not None
    when, failure = next_allowed(hours, decision.retry_at, counters.deadline_at)
    if when is None:
        return final(failure.lower() if failure else "no_window", failure)
    return NextStep(
        TargetStatus.SCHEDULED, attempt, free_retries, streak, when, "retry"
    )
