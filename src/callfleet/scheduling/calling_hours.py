"""Calling hours: the instants (UTC) at which a target may be called.

A schedule is a list of wall-clock intervals per weekday in a time zone. Each
interval belongs to the local date it starts on: an interval whose end is not after
its start runs across midnight into the next day, ``24:00`` ends the day, and a
holiday closes the intervals that start on that date.

Wall times are turned into instants with these rules, so that DST days (23 or 25
hours long) behave the way the wall clock reads:

- A wall time that does not exist (the spring-forward gap) is skipped forward to
  the first instant after the gap. In New York on the spring-forward day an
  interval 02:00-03:00 is empty and 02:30-04:00 opens at 03:00.
- An ambiguous wall time (the fall-back overlap) is taken at its first occurrence
  when it starts an interval and at its second occurrence when it ends one, so no
  interval is cut short by the repeated hour.

Put another way: an interval opens at the first instant the wall clock reads its
start or later, and closes at the last instant it reads its end or earlier.

A target may be in several zones (a number whose area spans zones): a call is
allowed only at instants that every zone allows.

Every datetime taken or returned is timezone-aware; results are in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import structlog
from phonenumbers import timezone as phone_timezone

from callfleet.campaigns.settings import (
    WEEKDAYS,
    OperatingHours,
    WeekSchedule,
    validate_zone,
)

log = structlog.get_logger()

DEFAULT_HORIZON = timedelta(days=400)
DEFAULT_OPEN_UNTIL_HORIZON = timedelta(days=7)

_UNKNOWN_ZONE = "Etc/Unknown"
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
# Window lists are cached per local date; a dispatcher walks forward in time, so
# an old cache is simply dropped when it grows past this size.
_MAX_CACHED_DAYS = 4096

Window = tuple[datetime, datetime]


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def target_zones(
    phone_e164: str, input_data: Mapping[str, Any], schedule_tz: str, policy: str
) -> list[str]:
    """The time zones whose calling hours apply to a target.

    ``policy == "campaign"`` gives the schedule's own zone. Otherwise an explicit
    ``input_data["timezone"]`` wins (an unknown zone raises ``ValueError`` naming
    it), then every zone the phone number may be in, then the schedule's zone.
    """
    if policy == "campaign":
        return [schedule_tz]

    explicit = input_data.get("timezone")
    if explicit not in (None, ""):
        if not isinstance(explicit, str):
            raise ValueError(f"timezone must be an IANA zone name, got {explicit!r}")
        return [validate_zone(explicit.strip())]

    zones = _number_zones(phone_e164)
    return list(zones) if zones else [schedule_tz]


@lru_cache(maxsize=16_384)
def _number_zones(phone_e164: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return ()

    zones = []
    for zone in phone_timezone.time_zones_for_number(number):
        if zone == _UNKNOWN_ZONE or zone in zones:
            continue
        try:
            zones.append(validate_zone(zone))
        except ValueError:
            # phonenumbers' metadata can name a zone this system's tzdata lacks;
            # the remaining zones still constrain the call.
            log.warning("calling_hours.unknown_number_zone", zone=zone)
    return tuple(zones)


def sla_deadline(
    created_at: datetime, sla_hours: float | None, deadline: datetime | None
) -> datetime | None:
    """The earlier of ``created_at + sla_hours`` and ``deadline``; None if neither."""
    candidates = []
    if sla_hours is not None:
        candidates.append(as_utc(created_at, "created_at") + timedelta(hours=sla_hours))
    if deadline is not None:
        candidates.append(as_utc(deadline, "deadline"))
    return min(candidates) if candidates else None


def hours_for_target(
    campaign_schedule: WeekSchedule,
    operating_hours: OperatingHours | None,
    zones: Iterable[str],
) -> CallingHours:
    """The calling hours of one target.

    The phone number's own operating hours, in their own zone, win over the
    campaign's schedule; otherwise the campaign's schedule applies in ``zones``.
    Instances are cached per (schedule, zones), so calling this per target is cheap.
    """
    if operating_hours is not None:
        return cached_calling_hours(operating_hours, [operating_hours.tz])
    return cached_calling_hours(campaign_schedule, zones)


def cached_calling_hours(schedule: WeekSchedule, zones: Iterable[str]) -> CallingHours:
    """A shared ``CallingHours`` for an equal schedule and zones."""
    return _cached(schedule.model_dump_json(), tuple(zones))


@lru_cache(maxsize=2048)
def _cached(schedule_json: str, zones: tuple[str, ...]) -> CallingHours:
    # Every field is in the dump, so the defaults that tell OperatingHours from
    # WeekSchedule do not matter when reading it back.
    return CallingHours(WeekSchedule.model_validate_json(schedule_json), zones)


class CallingHours:
    """When calls are allowed under one schedule in one or more zones."""

    def __init__(self, schedule: WeekSchedule, zones: Iterable[str]) -> None:
        zone_names = list(dict.fromkeys(zones))
        if not zone_names:
            raise ValueError("calling hours need at least one time zone")
        self.schedule = schedule
        self.zones = tuple(validate_zone(name) for name in zone_names)
        self._zone_hours = [_ZoneHours(schedule, ZoneInfo(name)) for name in self.zones]
        self._never_open = not any(schedule.day(i) for i in range(len(WEEKDAYS)))

    def __repr__(self) -> str:
        return f"CallingHours(zones={self.zones!r})"

    def allows(self, at: datetime) -> bool:
        """Whether a call may be placed at ``at``."""
        at = as_utc(at, "at")
        if self._never_open:
            return False
        return all(zone.allows(at) for zone in self._zone_hours)

    def next_open(
        self, after: datetime, *, until: datetime | None = None
    ) -> datetime | None:
        """The earliest instant at or after ``after`` at which a call is allowed
        (``after`` itself when allowed now), or None if there is none at or before
        ``until`` (default: 400 days after ``after``)."""
        after = as_utc(after, "after")
        until = after + DEFAULT_HORIZON if until is None else as_utc(until, "until")
        if self._never_open or until < after:
            return None

        # Each zone's next opening is a lower bound for the intersection; jumping to
        # the largest bound until every zone agrees finds the earliest common instant.
        candidate = after
        while True:
            bound = candidate
            for zone in self._zone_hours:
                opening = zone.next_open(bound, until)
                if opening is None:
                    return None
                bound = opening
            if bound == candidate:
                return candidate
            candidate = bound

    def open_until(
        self, at: datetime, *, until: datetime | None = None
    ) -> datetime | None:
        """When the allowed period containing ``at`` ends, or None if calls are not
        allowed at ``at``. A period still open at ``until`` (default: 7 days after
        ``at``) gives ``until``."""
        at = as_utc(at, "at")
        until = (
            at + DEFAULT_OPEN_UNTIL_HORIZON if until is None else as_utc(until, "until")
        )
        if not self.allows(at):
            return None

        end = until
        for zone in self._zone_hours:
            end = min(end, zone.open_until(at, end))
        return end


class _ZoneHours:
    """One schedule in one zone: the per-date windows as UTC instants."""

    def __init__(self, schedule: WeekSchedule, zone: ZoneInfo) -> None:
        self.zone = zone
        self._holidays = frozenset(schedule.holidays)
        self._days: list[list[tuple[time, time | None, int]]] = []
        for weekday in range(len(WEEKDAYS)):
            intervals = []
            for interval in schedule.day(weekday):
                end = interval.end_time
                # Days after the start date on which the interval ends.
                end_day = 1 if end is None or interval.crosses_midnight else 0
                intervals.append((interval.start_time, end, end_day))
            self._days.append(intervals)
        self._cache: dict[date, tuple[Window, ...]] = {}

    def windows(self, day: date) -> tuple[Window, ...]:
        """The windows of the intervals starting on local ``day``, by start."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached

        windows: list[Window] = []
        if day not in self._holidays:
            for start, end, end_day in self._days[day.weekday()]:
                opens = _instant(self.zone, datetime.combine(day, start), fold=0)
                end_date = day + timedelta(days=end_day)
                closes = _instant(
                    self.zone, datetime.combine(end_date, end or time(0)), fold=1
                )
                if closes > opens:
                    windows.append((opens, closes))
        windows.sort()

        if len(self._cache) >= _MAX_CACHED_DAYS:
            self._cache.clear()
        result = tuple(windows)
        self._cache[day] = result
        return result

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def allows(self, at: datetime) -> bool:
        # A window can contain an instant whose local date is one day off its own
        # date: across midnight, and where a zone falls back over midnight.
        today = self._local_date(at)
        for day in (today - _ONE_DAY, today, today + _ONE_DAY):
            for opens, closes in self.windows(day):
                if opens > at:
                    break
                if at < closes:
                    return True
        return False

    def next_open(self, after: datetime, until: datetime) -> datetime | None:
        # Window starts grow with their local date and within it, so the first
        # window in that order that is still open at ``after`` is the earliest.
        day = self._local_date(after) - _ONE_DAY
        last_day = self._local_date(until) + _ONE_DAY
        while day <= last_day:
            for opens, closes in self.windows(day):
                if closes > after:
                    opening = max(opens, after)
                    return opening if opening <= until else None
            day += _ONE_DAY
        return None

    def open_until(self, at: datetime, until: datetime) -> datetime:
        # Overlapping and touching windows (several intervals, or one running into
        # the next day's) make one period; extend its end while they chain.
        end = at
        day = self._local_date(at) - _ONE_DAY
        while end < until:
            for opens, closes in self.windows(day):
                if opens > end:
                    return end
                end = max(end, closes)
            day += _ONE_DAY
        return min(end, until)


def _instant(zone: ZoneInfo, wall: datetime, *, fold: int) -> datetime:
    """The UTC instant of a naive wall time; ``fold`` picks the occurrence of an
    ambiguous one, and a nonexistent one is moved to the end of its gap."""
    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant

    # In a gap the two folds map to either side of the transition; bisect to it.
    # Offsets change on whole seconds, so a one-second resolution is exact.
    low, high = sorted(
        wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)
    )
    while high - low > _ONE_SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high
