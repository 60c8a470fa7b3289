"""Calls are placed only inside calling hours, whatever the zones, DST or the
number's own hours; waiting targets move to their next window; deadlines end
targets that can no longer be called in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callfleet.targets.status import TargetStatus
from callfleet.telephony.fake import FakeOutcome

WEEKDAYS_9_TO_5 = {
    "tz": "America/New_York",
    **{
        day: [{"start": "09:00", "end": "17:00"}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    },
    "saturday": [],
    "sunday": [],
}
ENDLESS_RETRIES = {
    "max_attempts": 50,
    "rules": {"no_answer": {"delay_minutes": 45}},
}


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


def in_9_to_5(instant: datetime, zone: str) -> bool:
    wall = local(instant, zone)
    return wall.weekday() < 5 and 9 <= wall.hour < 17


async def test_dials_stay_inside_hours_across_dst_and_zones(world):
    # Starts on Friday 2026-03-06 and walks through the spring-forward weekend.
    world.clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    campaign_id = await world.campaign(
        calling_hours=WEEKDAYS_9_TO_5, retry_policy=ENDLESS_RETRIES
    )
    new_york, idaho = "+12125550111", "+12085550111"  # Idaho: Boise and Los Angeles
    world.provider.default = FakeOutcome("no_answer")
    await world.add(campaign_id, [{"phone_number": new_york}, {"phone_number": idaho}])
    worker = world.worker()

    await world.run_until(worker, datetime(2026, 3, 11, 0, 0, tzinfo=UTC), 600)

    by_number: dict[str, list[datetime]] = {new_york: [], idaho: []}
    for dial in world.provider.dials:
        by_number[dial.request.to_number].append(dial.at)
    assert len(by_number[new_york]) > 10 and len(by_number[idaho]) > 10
    for at in by_number[new_york]:
        assert in_9_to_5(at, "America/New_York"), at
    for at in by_number[idaho]:
        assert in_9_to_5(at, "America/Boise"), at
        assert in_9_to_5(at, "America/Los_Angeles"), at
    # Monday after the change: New York opens at 13:00 UTC (EDT), not 14:00.
    monday = [a for a in by_number[new_york] if a.date() == datetime(2026, 3, 9).date()]
    assert min(monday) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    # Nothing at all on the weekend.
    assert not [
        a
        for at in by_number.values()
        for a in at
        if local(a, "America/New_York").weekday() >= 5
    ]


async def test_out_of_hours_target_waits_for_its_window(world):
    # Saturday morning in New York: the first window is Monday 09:00.
    world.clock.set(datetime(2026, 1, 10, 15, 0, tzinfo=UTC))
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5)
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550112"}])
    worker = world.worker()

    assert await world.step(worker) == 0
    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED
    assert target.next_attempt_at == datetime(2026, 1, 12, 14, 0, tzinfo=UTC)

    world.clock.set(datetime(2026, 1, 12, 13, 59, tzinfo=UTC))
    assert await world.step(worker) == 0
    world.clock.set(datetime(2026, 1, 12, 14, 0, tzinfo=UTC))
    assert await world.step(worker) == 1


async def test_retry_lands_in_the_next_window(world):
    # Friday 16:30 in New York; voicemail retries after 4 hours, when it is closed.
    world.clock.set(datetime(2026, 1, 9, 21, 30, tzinfo=UTC))
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5)
    number = "+12125550113"
    world.provider.outcomes = {number: FakeOutcome("voicemail")}
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    await world.step(world.worker())

    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED
    # 01:30 Saturday local is closed; Monday 09:00 New York is the next instant.
    assert target.next_attempt_at == datetime(2026, 1, 12, 14, 0, tzinfo=UTC)


async def test_window_across_midnight_in_explicit_zone(world):
    night = {
        "tz": "UTC",
        **{
            day: [{"start": "22:00", "end": "02:00"}]
            for day in (
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            )
        },
    }
    world.clock.set(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    campaign_id = await world.campaign(
        calling_hours=night, retry_policy=ENDLESS_RETRIES
    )
    world.provider.default = FakeOutcome("no_answer")
    await world.add(
        campaign_id,
        [{"phone_number": "+12125550114", "input_data": {"timezone": "Asia/Tokyo"}}],
    )
    await world.run_until(world.worker(), datetime(2026, 1, 8, tzinfo=UTC), 900)

    assert len(world.provider.dials) >= 6
    for dial in world.provider.dials:
        wall = local(dial.at, "Asia/Tokyo")
        assert wall.hour >= 22 or wall.hour < 2, wall


async def test_number_operating_hours_win_over_campaign_hours(world):
    world.clock.set(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))  # Monday 09:00 NY
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5)
    [target_id] = await world.add(
        campaign_id,
        [
            {
                "phone_number": {
                    "value": "+12125550115",
                    "operating_hours": {
                        "tz": "America/Chicago",
                        "tuesday": [{"start": "13:00", "end": "15:00"}],
                    },
                }
            }
        ],
    )
    worker = world.worker()
    assert await world.step(worker) == 0
    target = await world.target(target_id)
    assert target.next_attempt_at == datetime(2026, 1, 6, 19, 0, tzinfo=UTC)


async def test_toll_free_number_uses_the_campaign_zone(world):
    world.clock.set(datetime(2026, 1, 5, 14, 30, tzinfo=UTC))  # Monday 09:30 NY
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5)
    [target_id] = await world.add(campaign_id, [{"phone_number": "+18005550116"}])
    target = await world.target(target_id)
    assert len(target.timezones) > 10  # as stored at ingest

    assert await world.step(world.worker()) == 1


async def test_deadline_that_cannot_be_met_fails_sla_expired(world):
    # Saturday; the SLA of 24 hours ends before Monday's window.
    world.clock.set(datetime(2026, 1, 10, 15, 0, tzinfo=UTC))
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5, sla_hours=24)
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550117"}])

    assert await world.step(world.worker()) == 0
    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    assert target.category == "SLA_EXPIRED"
    assert world.provider.dials == []
    [event] = await world.events(campaign_id, "campaign_target_finished")
    assert event.payload["next_attempt_scheduled"] is None


async def test_retry_after_deadline_fails_sla_expired(world):
    world.clock.set(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    campaign_id = await world.campaign(calling_hours=WEEKDAYS_9_TO_5, sla_hours=3)
    number = "+12125550118"
    world.provider.outcomes = {number: FakeOutcome("voicemail")}  # retry in 4 hours
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    await world.step(world.worker())

    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    assert target.category == "SLA_EXPIRED"
    assert target.attempt == 1
    assert target.next_attempt_at is None
    assert world.clock.now() + timedelta(hours=3) == target.deadline_at


async def test_weeks_of_retries_walked_by_due_times(world):
    world.clock.set(datetime(2026, 10, 19, 12, 0, tzinfo=UTC))
    campaign_id = await world.campaign(
        calling_hours=WEEKDAYS_9_TO_5,
        retry_policy={
            "max_attempts": 12,
            "rules": {"no_answer": {"delay_minutes": 600}},
        },
    )
    world.provider.default = FakeOutcome("no_answer")
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550119"}])

    # Three weeks, across the end of daylight saving time on 2026-11-01.
    await world.walk(world.worker(), datetime(2026, 11, 9, tzinfo=UTC))

    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    assert target.attempt == 12
    assert len(world.provider.dials) == 12
    for dial in world.provider.dials:
        assert in_9_to_5(dial.at, "America/New_York"), dial.at
    # A retry ten hours after a call lands at the next opening, 09:00 local.
    openings = [d.at for d in world.provider.dials[1:]]
    assert all(local(at, "America/New_York").hour == 9 for at in openings)
