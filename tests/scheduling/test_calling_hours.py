from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callfleet.campaigns.settings import (
    WEEKDAYS,
    OperatingHours,
    TimeInterval,
    WeekSchedule,
)
from callfleet.scheduling.calling_hours import (
    CallingHours,
    cached_calling_hours,
    hours_for_target,
    sla_deadline,
    target_zones,
)

ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    # Falls back over midnight, so an interval can hold instants of the day before.
    "America/Santiago",
]
MINUTE = timedelta(minutes=1)
QUARTER = timedelta(minutes=15)
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def week(
    tz: str = NY, holidays: tuple[date, ...] = (), **days: list[str]
) -> WeekSchedule:
    """A schedule with only the given days open, e.g. ``monday=["08:00-12:00"]``."""
    intervals = {
        day: [TimeInterval(start=s.split("-")[0], end=s.split("-")[1]) for s in spans]
        for day, spans in days.items()
    }
    closed = {day: [] for day in WEEKDAYS if day not in intervals}
    return WeekSchedule(tz=tz, holidays=list(holidays), **closed, **intervals)


# --- the reference -----------------------------------------------------------
#
# Straight from the definition: an interval opens at the first instant whose wall
# time is at or after its start, and closes at the last instant whose wall time is
# at or before its end (the end of the gap when the end does not exist). So t is
# inside when some instant up to t reads >= start and some instant after t reads
# <= end. Offsets of the test zones change on whole minutes by at most an hour, so
# looking three hours either way, minute by minute (and at half minutes after t,
# to see just under a gap), is exact for instants on whole minutes.


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def reference_allows_zone(schedule: WeekSchedule, zone_name: str, at: datetime) -> bool:
    zone = ZoneInfo(zone_name)
    window = timedelta(hours=3)
    offsets = {(at + k * window).astimezone(zone).utcoffset() for k in (-1, 0, 1)}
    if len(offsets) == 1:
        # No offset change near: wall time runs with the instant.
        latest = _wall(at, zone)
        earliest_after = latest + timedelta(microseconds=1)
    else:
        latest = max(_wall(at - k * MINUTE, zone) for k in range(181))
        later = [at + k * MINUTE / 2 for k in range(1, 361)]
        earliest_after = min(_wall(u, zone) for u in later)

    today = _wall(at, zone).date()
    for offset in range(-2, 2):
        day = today + timedelta(days=offset)
        if day in schedule.holidays:
            continue
        for interval in schedule.day(day.weekday()):
            start = datetime.combine(day, interval.start_time)
            if interval.end == "24:00":
                end = datetime.combine(day + timedelta(days=1), datetime.min.time())
            elif interval.crosses_midnight:
                end = datetime.combine(day + timedelta(days=1), interval.end_time)
            else:
                end = datetime.combine(day, interval.end_time)
            if start <= latest and earliest_after <= end:
                return True
    return False


def reference_allows(schedule: WeekSchedule, zones: list[str], at: datetime) -> bool:
    return all(reference_allows_zone(schedule, zone, at) for zone in zones)


# --- strategies ----------------------------------------------------------------


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _transitions(name: str) -> list[datetime]:
    """The instants (to the minute) at which a zone's offset changed, 2019-2030."""
    zone = ZoneInfo(name)
    found = []
    noon = utc(2019, 1, 1, 12)
    previous = noon.astimezone(zone).utcoffset()
    while noon < utc(2031, 1, 1):
        noon += timedelta(days=1)
        offset = noon.astimezone(zone).utcoffset()
        if offset != previous:
            low, high = noon - timedelta(days=1), noon
            while high - low > MINUTE:
                middle = low + (high - low) / 2
                middle -= timedelta(
                    seconds=middle.second, microseconds=middle.microsecond
                )
                if middle.astimezone(zone).utcoffset() == offset:
                    high = middle
                else:
                    low = middle
            found.append(high)
        previous = offset
    return found


TRANSITIONS = {name: _transitions(name) for name in ZONES}


@st.composite
def intervals(draw: st.DrawFn, near: list[int]) -> TimeInterval:
    # Quarter hours: every zone here is offset by whole quarter hours, so all
    # window edges fall on a 15-minute UTC grid, which the earliest checks rely on.
    # Half the time the edges sit near midnight or near a DST change of the case.
    quarters = st.integers(0, 96) | st.sampled_from(near)
    start = draw(quarters.filter(lambda q: q < 96)) * 15
    end = draw(quarters.filter(lambda q: q * 15 != start)) * 15
    if start == 0 and end == 0:
        end = 24 * 60
    return TimeInterval(start=_clock(start), end=_clock(end))


@st.composite
def cases(
    draw: st.DrawFn, max_zones: int = 2
) -> tuple[WeekSchedule, list[str], datetime]:
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=max_zones))

    near = [0, 1, 2, 94, 95, 96]
    transitions = TRANSITIONS[zones[0]]
    if transitions and draw(st.integers(0, 3)) > 0:
        # Around an offset change of the first zone, with interval edges around
        # the wall times on either side of it.
        change = draw(st.sampled_from(transitions))
        at = change + draw(st.integers(-6 * 60, 6 * 60)) * MINUTE
        zone = ZoneInfo(zones[0])
        for side in (change - MINUTE, change):
            wall = side.astimezone(zone)
            quarter = (wall.hour * 60 + wall.minute + 1) // 15
            near += [q for q in range(quarter - 5, quarter + 6) if 0 <= q <= 96]
    else:
        at = utc(2019, 1, 1) + draw(st.integers(0, 12 * 366 * 24 * 60)) * MINUTE

    days = {
        day: draw(st.lists(intervals(near), max_size=3))
        if draw(st.integers(0, 9)) < 8
        else []
        for day in WEEKDAYS
    }
    holidays = draw(
        st.lists(st.integers(-3, 3).map(lambda d: at.date() + timedelta(days=d)))
    )
    schedule = WeekSchedule(**days, tz=zones[0], holidays=holidays)
    return schedule, zones, at


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- properties ----------------------------------------------------------------


@PROPERTY_SETTINGS
@given(cases(max_zones=1))
def test_allows_agrees_with_reference(case: tuple) -> None:
    schedule, zones, at = case
    hours = CallingHours(schedule, zones)

    for minutes in (0, 15, -60, 60, -120, 120, 13 * 60):
        probe = at + minutes * MINUTE
        assert hours.allows(probe) == reference_allows(schedule, zones, probe), probe


@PROPERTY_SETTINGS
@given(cases(max_zones=3))
def test_several_zones_allow_the_intersection(case: tuple) -> None:
    schedule, zones, at = case
    combined = CallingHours(schedule, zones)
    singles = [CallingHours(schedule, [zone]) for zone in zones]

    for probe in (at, at + timedelta(hours=5), at + timedelta(hours=11)):
        expected = all(single.allows(probe) for single in singles)
        assert combined.allows(probe) == expected
        assert expected == reference_allows(schedule, zones, probe)


def _grid_points(start: datetime, end: datetime) -> list[datetime]:
    """``start`` and every quarter hour after it, before ``end``."""
    first = start.replace(second=0, microsecond=0)
    first -= timedelta(minutes=first.minute % 15)
    points = [start] if start < end else []
    point = first + QUARTER
    while point < end:
        points.append(point)
        point += QUARTER
    return points


@PROPERTY_SETTINGS
@given(cases(max_zones=2))
def test_next_open_is_the_earliest_allowed_instant(case: tuple) -> None:
    schedule, zones, at = case
    hours = CallingHours(schedule, zones)
    until = at + timedelta(days=8)

    opening = hours.next_open(at, until=until)

    # Allowed-ness only changes on the quarter-hour grid, so checking each grid
    # point (and ``at``) before the answer covers every instant in between.
    stop = until + MINUTE if opening is None else opening
    for point in _grid_points(at, stop):
        assert not reference_allows(schedule, zones, point), point
    if opening is not None:
        assert at <= opening <= until
        assert reference_allows(schedule, zones, opening)
        assert hours.allows(opening)
        assert (opening == at) == hours.allows(at)


@PROPERTY_SETTINGS
@given(cases(max_zones=2))
def test_open_until_is_where_the_allowed_period_ends(case: tuple) -> None:
    schedule, zones, at = case
    hours = CallingHours(schedule, zones)
    opening = hours.next_open(at, until=at + timedelta(days=8))
    if opening is None:
        assert hours.open_until(at) is None
        return

    until = opening + timedelta(days=2)
    closing = hours.open_until(opening, until=until)

    assert closing is not None and opening < closing <= until
    for point in _grid_points(opening, closing):
        assert reference_allows(schedule, zones, point), point
    if closing < until:
        assert not reference_allows(schedule, zones, closing)


# --- examples: DST -------------------------------------------------------------


def test_spring_forward_day_has_23_hours() -> None:
    hours = CallingHours(week(sunday=["00:00-24:00"]), [NY])

    opening = hours.next_open(utc(2026, 3, 7, 12))
    closing = hours.open_until(opening)

    assert opening == utc(2026, 3, 8, 5)  # midnight EST
    assert closing == utc(2026, 3, 9, 4)  # midnight EDT
    assert closing - opening == timedelta(hours=23)


def test_fall_back_day_has_25_hours() -> None:
    hours = CallingHours(week(sunday=["00:00-24:00"]), [NY])

    opening = hours.next_open(utc(2026, 10, 31, 12))
    closing = hours.open_until(opening)

    assert closing - opening == timedelta(hours=25)


def test_interval_inside_the_spring_forward_gap_is_empty() -> None:
    hours = CallingHours(week(sunday=["02:00-03:00"]), [NY])

    opening = hours.next_open(utc(2026, 3, 7, 12))

    assert opening == utc(2026, 3, 15, 6)  # 02:00 EDT a week later


def test_interval_starting_in_the_gap_opens_when_the_gap_ends() -> None:
    hours = CallingHours(week(sunday=["02:30-03:30"]), [NY])

    opening = hours.next_open(utc(2026, 3, 7, 12))

    assert opening == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert hours.open_until(opening) == utc(2026, 3, 8, 7, 30)


def test_interval_across_the_gap_keeps_its_real_length() -> None:
    hours = CallingHours(week(sunday=["01:30-03:30"]), [NY])

    opening = hours.next_open(utc(2026, 3, 7, 12))

    assert opening == utc(2026, 3, 8, 6, 30)  # 01:30 EST
    assert hours.open_until(opening) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_ambiguous_start_and_end_take_first_and_second_occurrence() -> None:
    hours = CallingHours(week(sunday=["01:15-01:45"]), [NY])

    opening = hours.next_open(utc(2026, 10, 31, 12))

    assert opening == utc(2026, 11, 1, 5, 15)  # 01:15 EDT, the first one
    assert hours.open_until(opening) == utc(2026, 11, 1, 6, 45)  # 01:45 EST


def test_lord_howe_half_hour_gap() -> None:
    # Lord Howe moves from +10:30 to +11:00 at 02:00 on the first Sunday of October.
    hours = CallingHours(week(sunday=["02:00-02:30"]), ["Australia/Lord_Howe"])

    assert hours.next_open(utc(2026, 10, 3)) == utc(2026, 10, 10, 15)


# --- examples: days, holidays, zones ----------------------------------------------


def test_several_intervals_a_day() -> None:
    hours = CallingHours(week(monday=["08:00-12:00", "13:00-20:00"]), [NY])

    assert hours.allows(utc(2026, 1, 5, 16, 59))  # 11:59
    assert not hours.allows(utc(2026, 1, 5, 17, 30))  # 12:30, lunch
    assert hours.next_open(utc(2026, 1, 5, 17, 30)) == utc(2026, 1, 5, 18)
    assert hours.open_until(utc(2026, 1, 5, 18)) == utc(2026, 1, 6, 1)


def test_overlapping_and_touching_intervals_make_one_period() -> None:
    hours = CallingHours(
        week(monday=["08:00-12:00", "11:00-14:00", "14:00-16:00"]), [NY]
    )

    assert hours.open_until(utc(2026, 1, 5, 13)) == utc(2026, 1, 5, 21)


def test_interval_across_midnight_belongs_to_its_start_day() -> None:
    hours = CallingHours(week(friday=["22:00-02:00"]), [NY])

    assert hours.allows(utc(2026, 1, 10, 6))  # Saturday 01:00 local
    assert not hours.allows(utc(2026, 1, 10, 7, 30))  # Saturday 02:30
    assert not hours.allows(utc(2026, 1, 9, 4))  # Thursday 23:00


def test_holiday_closes_intervals_starting_on_it_only() -> None:
    # Thursday night runs into a Friday holiday; Friday night is closed.
    hours = CallingHours(
        week(
            thursday=["22:00-02:00"],
            friday=["22:00-02:00"],
            holidays=(date(2026, 12, 25),),
        ),
        [NY],
    )

    assert hours.allows(utc(2026, 12, 25, 6))  # Friday 01:00, Thursday's interval
    assert not hours.allows(utc(2026, 12, 26, 4))  # Friday 23:00
    assert hours.next_open(utc(2026, 12, 25, 8)) == utc(2027, 1, 1, 3)


def test_24_00_ends_the_day() -> None:
    hours = CallingHours(week(monday=["20:00-24:00"], tuesday=["00:00-01:00"]), [NY])

    assert hours.open_until(utc(2026, 1, 6, 1)) == utc(2026, 1, 6, 6)


def test_schedule_without_intervals_never_opens() -> None:
    hours = CallingHours(week(), [NY])

    assert not hours.allows(utc(2026, 1, 5, 15))
    assert hours.next_open(utc(2026, 1, 5, 15)) is None
    assert hours.open_until(utc(2026, 1, 5, 15)) is None


def test_next_open_gives_up_at_until() -> None:
    hours = CallingHours(week(monday=["08:00-09:00"]), [NY])

    assert hours.next_open(utc(2026, 1, 6), until=utc(2026, 1, 12, 12)) is None
    assert hours.next_open(utc(2026, 1, 6), until=utc(2026, 1, 12, 13)) == utc(
        2026, 1, 12, 13
    )


def test_naive_datetimes_are_refused() -> None:
    hours = CallingHours(week(monday=["08:00-09:00"]), [NY])

    with pytest.raises(ValueError, match="timezone-aware"):
        hours.allows(datetime(2026, 1, 5, 14))
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.next_open(datetime(2026, 1, 5, 14))


def test_results_are_utc_for_any_aware_input() -> None:
    hours = CallingHours(week(monday=["08:00-09:00"]), [NY])
    paris = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Europe/Paris"))

    opening = hours.next_open(paris)

    assert opening == utc(2026, 1, 5, 13) and opening.tzinfo is UTC


def test_toll_free_number_is_called_only_when_every_zone_is_open() -> None:
    zones = target_zones("+18005550100", {}, NY, "target")
    hours = CallingHours(week(monday=["09:00-17:00"]), zones)

    assert {"America/New_York", "Pacific/Honolulu", "Pacific/Guam"} <= set(zones)
    # 10:00 in New York is 05:00 in Honolulu.
    assert not hours.allows(utc(2026, 1, 5, 15))
    assert CallingHours(week(monday=["09:00-17:00"]), [NY]).allows(utc(2026, 1, 5, 15))
    # Monday 9-17 in Honolulu (19-03 UTC) and in Guam (23-07 UTC, Sunday) never meet.
    assert hours.next_open(utc(2026, 1, 5), until=utc(2026, 3, 1)) is None


def test_multi_zone_window_is_the_overlap() -> None:
    hours = CallingHours(
        week(monday=["09:00-17:00"]), ["America/New_York", "America/Los_Angeles"]
    )

    opening = hours.next_open(utc(2026, 1, 5))

    assert opening == utc(2026, 1, 5, 17)  # 09:00 in Los Angeles
    assert hours.open_until(opening) == utc(2026, 1, 5, 22)  # 17:00 in New York


# --- target zones, hours for a target, SLA -------------------------------------


def test_target_zones_campaign_policy_uses_the_schedule_zone() -> None:
    zones = target_zones("+14155550100", {"timezone": "Asia/Tokyo"}, NY, "campaign")

    assert zones == [NY]


def test_explicit_input_timezone_wins_over_the_number() -> None:
    zones = target_zones("+18005550100", {"timezone": "Europe/Berlin"}, NY, "target")

    assert zones == ["Europe/Berlin"]


def test_invalid_input_timezone_names_the_value() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        target_zones("+12015550100", {"timezone": "Mars/Olympus_Mons"}, NY, "target")


def test_zone_from_the_number() -> None:
    assert target_zones("+12015550100", {}, "UTC", "target") == [NY]
    assert target_zones("+61255550100", {}, "UTC", "target") == ["Australia/Sydney"]


def test_unparseable_number_falls_back_to_the_schedule_zone() -> None:
    assert target_zones("not a number", {}, "Europe/Paris", "target") == [
        "Europe/Paris"
    ]


def test_operating_hours_of_the_number_win() -> None:
    campaign = week(monday=["08:00-20:00"])
    operating = OperatingHours(
        tz="Europe/London", monday=[TimeInterval(start="10:00", end="11:00")]
    )

    hours = hours_for_target(campaign, operating, ["America/Los_Angeles"])

    assert hours.zones == ("Europe/London",)
    assert hours.next_open(utc(2026, 1, 5)) == utc(2026, 1, 5, 10)


def test_campaign_hours_apply_in_the_target_zones() -> None:
    hours = hours_for_target(week(monday=["08:00-20:00"]), None, ["America/Chicago"])

    assert hours.next_open(utc(2026, 1, 5)) == utc(2026, 1, 5, 14)


def test_equal_schedules_share_cached_hours() -> None:
    first = cached_calling_hours(week(monday=["08:00-20:00"]), [NY])
    second = cached_calling_hours(week(monday=["08:00-20:00"]), [NY])

    assert first is second


def test_sla_deadline_is_the_earlier_of_both() -> None:
    created = utc(2026, 1, 5, 12)

    assert sla_deadline(created, 72, None) == utc(2026, 1, 8, 12)
    assert sla_deadline(created, 72, utc(2026, 1, 6)) == utc(2026, 1, 6)
    assert sla_deadline(created, 1, utc(2026, 1, 6)) == utc(2026, 1, 5, 13)
    assert sla_deadline(created, None, None) is None


# --- walking simulated weeks -------------------------------------------------------


def test_walking_six_weeks_hour_by_hour() -> None:
    schedule = week(
        monday=["08:00-12:00", "13:00-20:00"],
        tuesday=["08:00-20:00"],
        wednesday=["22:00-02:00"],
        thursday=["08:00-20:00"],
        friday=["08:00-17:00"],
        saturday=["09:00-13:00"],
        holidays=(date(2026, 3, 12),),
    )
    hours = CallingHours(schedule, [NY, "America/Chicago"])
    start = utc(2026, 2, 23)

    allowed = 0
    for step in range(6 * 7 * 24):
        at = start + timedelta(hours=step)
        opening = hours.next_open(at)
        assert opening is not None and opening >= at
        if hours.allows(at):
            allowed += 1
            assert opening == at
            assert hours.open_until(at) > at

    # The walk crosses the US spring-forward day and a holiday; spot-check counts.
    assert 0 < allowed < 6 * 7 * 24
    assert hours.allows(utc(2026, 3, 9, 14))  # Monday 10:00 EDT, 09:00 CDT
    assert not hours.allows(utc(2026, 3, 12, 14))  # the Thursday holiday
