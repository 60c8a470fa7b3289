"""A target's way through the engine: claimed, called, recorded, retried or
final, with the webhook events and the campaign's completion."""

from __future__ import annotations

from datetime import timedelta

from callfleet.targets.status import TargetStatus
from callfleet.telephony.fake import FakeOutcome


async def test_completed_call_finishes_target_and_campaign(world):
    campaign_id = await world.campaign()
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550101"}])
    worker = world.worker()

    assert await world.step(worker) == 1

    target = await world.target(target_id)
    assert target.status == TargetStatus.FINISHED
    assert target.attempt == 1
    assert target.next_attempt_at is None
    assert target.last_call_at == world.clock.now()
    assert target.finished_at is not None
    [log] = await world.call_logs(target_id)
    assert log.state == "completed"
    assert log.disposition == "completed"
    assert log.completed_at is not None
    assert log.answered_at is not None and log.provider_call_id
    assert log.transcripts and log.transcripts[0]["role"] in ("assistant", "user")
    assert log.call_categorization["category"] == target.category

    [event] = await world.events(campaign_id, "campaign_target_finished")
    assert event.payload["next_attempt_scheduled"] is None
    assert event.payload["attempt"] == 1
    campaign = await world.campaign_row(campaign_id)
    assert campaign.status == "completed"
    assert len(await world.events(campaign_id, "campaign_finished")) == 1

    # Nothing more to do: another pass neither calls nor completes again.
    assert await world.step(worker) == 0
    await worker.sweep()
    assert len(await world.events(campaign_id, "campaign_finished")) == 1
    assert len(world.provider.dials) == 1


async def test_no_answer_is_retried_after_its_delay_and_counts_attempts(world):
    campaign_id = await world.campaign(retry_policy={"max_attempts": 3})
    number = "+12125550102"
    world.provider.outcomes = {number: FakeOutcome("no_answer")}
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    worker = world.worker()

    await world.step(worker)
    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED
    assert target.attempt == 1
    assert target.next_attempt_at == world.clock.now() + timedelta(minutes=120)
    [event] = await world.events(campaign_id, "campaign_target_finished")
    assert event.payload["next_attempt_scheduled"] is not None

    # Not due yet: nothing is dialled.
    world.clock.advance(minutes=119)
    assert await world.step(worker) == 0

    world.clock.advance(minutes=1)
    assert await world.step(worker) == 1
    world.clock.advance(minutes=120)
    assert await world.step(worker) == 1

    target = await world.target(target_id)
    # max_attempts counts the first call: three calls, then final.
    assert target.attempt == 3
    assert target.status == TargetStatus.FAILED
    assert target.next_attempt_at is None
    assert len(world.provider.dials) == 3
    logs = await world.call_logs(target_id)
    assert [log.attempt for log in logs] == [1, 2, 3]
    assert all(log.disposition == "no_answer" for log in logs)
    assert all(log.provider_code == 408 for log in logs)
    world.clock.advance(days=3)
    assert await world.step(worker) == 0


async def test_declined_is_final_and_never_redialled(world):
    campaign_id = await world.campaign()
    number = "+12125550103"
    world.provider.outcomes = {number: FakeOutcome("declined")}
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    worker = world.worker()

    await world.step(worker)
    for _ in range(5):
        world.clock.advance(hours=6)
        await world.step(worker)

    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    assert target.attempt == 1
    assert len(world.provider.dials) == 1
    [log] = await world.call_logs(target_id)
    assert (log.disposition, log.provider_code) == ("declined", 603)


async def test_capacity_does_not_use_an_attempt(world):
    campaign_id = await world.campaign(retry_policy={"max_attempts": 1})
    number = "+12125550104"
    world.provider.outcomes = {
        number: [FakeOutcome("capacity"), FakeOutcome("capacity"), FakeOutcome()]
    }
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    worker = world.worker()

    await world.step(worker)
    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED
    assert (target.attempt, target.free_retries) == (0, 1)
    assert target.next_attempt_at == world.clock.now() + timedelta(minutes=1)

    world.clock.advance(minutes=1)
    await world.step(worker)
    world.clock.advance(minutes=1)
    await world.step(worker)

    target = await world.target(target_id)
    # With max_attempts 1, the one real attempt still happened.
    assert target.status == TargetStatus.FINISHED
    assert (target.attempt, target.free_retries) == (1, 2)
    assert [d.outcome.kind for d in world.provider.dials] == [
        "capacity",
        "capacity",
        "completed",
    ]


def test_worker_loads_configured_scenario_files(tmp_path, database_url, monkeypatch):
    from callfleet.clock import SystemClock
    from callfleet.config import Config
    from callfleet.db.engine import create_engine, create_sessionmaker
    from callfleet.scheduling.worker import Worker
    from callfleet.telephony.simulator import scenario as scenarios
    from callfleet.telephony.simulator.scenario import ScenarioLibrary

    # Registrations are process-wide: keep this one to this test.
    monkeypatch.setattr(scenarios, "_registered", {})
    scenario = tmp_path / "front_desk.yaml"
    scenario.write_text(
        "name: front_desk_test\n"
        "person:\n"
        "  greeting: Front desk.\n"
        "  facts:\n"
        "    claim_status: {value: paid, answer: It was paid., aliases: [status]}\n"
    )
    config = Config(database_url=database_url, scenario_paths=[str(tmp_path)])
    engine = create_engine(database_url)
    Worker(create_sessionmaker(engine), config=config, clock=SystemClock())
    assert "front_desk_test" in ScenarioLibrary.default()
