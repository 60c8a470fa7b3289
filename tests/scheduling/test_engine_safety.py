"""Who must not be called is not called, and every attempt is recorded whatever
goes wrong: provider errors, hung calls, dead workers, cancelled campaigns."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from callfleet.agent.brains.base import AgentBrain
from callfleet.campaigns import service as campaigns
from callfleet.db.engine import transaction
from callfleet.db.models import Suppression
from callfleet.scheduling import repository
from callfleet.suppressions import service as suppressions
from callfleet.targets.status import TargetStatus
from callfleet.telephony.fake import FakeOutcome


async def open_calls(world, campaign_id: str) -> int:
    async with world.sessionmaker() as session:
        return await repository.open_call_count(session, campaign_id)


async def test_number_suppressed_after_ingest_is_never_dialled(world):
    campaign_id = await world.campaign()
    number = "+12125550201"
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    async with transaction(world.sessionmaker) as session:
        await suppressions.add_numbers(
            session,
            world.org_id,
            ["(212) 555-0201"],
            reason="asked by email",
            region="US",
            now=world.clock.now(),
        )

    assert await world.step(world.worker()) == 0
    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    assert target.category == "BLACKLISTED_PHONE"
    assert world.provider.dials == []
    assert await world.call_logs(target_id) == []
    [event] = await world.events(campaign_id, "campaign_target_finished")
    assert event.payload["target_id"] == target_id
    # That was the campaign's only target: the campaign is done.
    assert (await world.campaign_row(campaign_id)).status == "completed"
    assert len(await world.events(campaign_id, "campaign_finished")) == 1


async def test_do_not_call_request_suppresses_the_number_everywhere(world):
    first = await world.campaign()
    second = await world.campaign()
    number = "+12125550202"
    world.provider.outcomes = {number: FakeOutcome("dnc")}
    [target_id] = await world.add(first, [{"phone_number": number}])
    worker = world.worker()

    await world.step(worker)
    target = await world.target(target_id)
    assert target.status == TargetStatus.FAILED
    [log] = await world.call_logs(target_id)
    assert log.disposition == "do_not_call"
    async with world.sessionmaker() as session:
        [entry] = await session.scalars(
            select(Suppression).where(Suppression.organization_id == world.org_id)
        )
    assert (entry.phone_number, entry.source, entry.call_log_id) == (
        number,
        "call",
        log.id,
    )

    # The same number in another campaign ends at ingest or at claim, undialled.
    [other] = await world.add(second, [{"phone_number": number}])
    await world.step(worker)
    assert (await world.target(other)).category == "BLACKLISTED_PHONE"
    assert len(world.provider.dials) == 1


async def test_pause_resume_and_cancel(world):
    campaign_id = await world.campaign()
    numbers = [f"+1212555021{i}" for i in range(3)]
    world.provider.default = FakeOutcome("no_answer", delay_s=30)
    ids = await world.add(campaign_id, [{"phone_number": n} for n in numbers[:1]])
    worker = world.worker()

    async def change(action: str) -> None:
        async with transaction(world.sessionmaker) as session:
            await campaigns.change_status(
                session, world.org_id, campaign_id, action, world.clock.now()
            )

    await change("pause")
    assert (await worker.step()).claimed == 0
    await change("resume")
    assert (await worker.step()).claimed == 1

    # Cancelled while the call is live: the call finishes, no retry follows.
    await change("cancel")
    world.clock.advance(30)
    await worker.wait_idle()
    target = await world.target(ids[0])
    assert target.status == TargetStatus.FAILED
    assert target.outcome == "cancelled"
    assert target.next_attempt_at is None
    [log] = await world.call_logs(ids[0])
    assert log.disposition == "no_answer" and log.completed_at is not None
    world.clock.advance(hours=5)
    assert (await worker.step()).claimed == 0
    assert await open_calls(world, campaign_id) == 0


async def test_provider_that_raises_ends_the_attempt_and_frees_the_slot(world):
    campaign_id = await world.campaign()
    number = "+12125550221"
    world.provider.outcomes = {number: [FakeOutcome("raise"), FakeOutcome()]}
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    worker = world.worker()

    await world.step(worker)
    [log] = await world.call_logs(target_id)
    assert log.disposition == "failed"
    assert log.completed_at is not None
    assert "ConnectionError" in log.provider_reason
    assert await open_calls(world, campaign_id) == 0
    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED

    world.clock.advance(minutes=30)
    await world.step(worker)
    assert (await world.target(target_id)).status == TargetStatus.FINISHED


class HangingBrain(AgentBrain):
    async def on_event(self, event, state):
        await asyncio.Event().wait()
        return []


async def test_brain_that_hangs_is_cut_at_max_duration(world):
    campaign_id = await world.campaign(agent={"max_duration_s": 60})
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550222"}])
    worker = world.worker(brain_factory=lambda context, llm_client=None: HangingBrain())

    assert (await worker.step()).claimed == 1
    for _ in range(5):
        await asyncio.sleep(0)
    assert await open_calls(world, campaign_id) == 1
    world.clock.advance(60 + 60)
    await worker.wait_idle()

    [log] = await world.call_logs(target_id)
    assert log.completed_at is not None
    assert (log.disposition, log.call_ended_reason) == (
        "failed",
        "max-duration-reached",
    )
    assert await open_calls(world, campaign_id) == 0
    assert (await world.target(target_id)).status == TargetStatus.SCHEDULED


async def test_call_that_never_ends_is_cut_at_max_duration(world):
    campaign_id = await world.campaign(agent={"max_duration_s": 30})
    number = "+12125550223"
    world.provider.outcomes = {number: FakeOutcome("hang")}
    [target_id] = await world.add(campaign_id, [{"phone_number": number}])
    worker = world.worker()

    await worker.step()
    for _ in range(5):
        await asyncio.sleep(0)
    world.clock.advance(90)
    await worker.wait_idle()
    [log] = await world.call_logs(target_id)
    assert log.call_ended_reason == "max-duration-reached"
    assert await open_calls(world, campaign_id) == 0


async def test_sweeper_recovers_an_expired_lease_as_interrupted(world):
    campaign_id = await world.campaign(agent={"max_duration_s": 600})
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550224"}])
    crashed = world.worker(worker_id="crashed")
    # The crashed worker claimed, then died before dialling anything.
    claims, _ = await crashed.dispatcher.claim(
        world.clock.now(), 10, campaign_ids=[campaign_id]
    )
    assert len(claims) == 1
    assert (await world.target(target_id)).status == TargetStatus.IN_PROGRESS

    survivor = world.worker(worker_id="survivor")
    world.clock.advance(29)
    assert (await survivor.sweep()).interrupted == 0
    world.clock.advance(2)
    assert (await survivor.sweep()).interrupted == 1

    [log] = await world.call_logs(target_id)
    assert (log.disposition, log.call_ended_reason) == ("interrupted", "worker-lost")
    target = await world.target(target_id)
    assert target.status == TargetStatus.SCHEDULED
    assert target.attempt == 1
    assert target.next_attempt_at == world.clock.now() + timedelta(minutes=5)

    world.clock.advance(minutes=5)
    assert await world.step(survivor) == 1
    logs = await world.call_logs(target_id)
    assert [log.attempt for log in logs] == [1, 2]
    assert (await world.target(target_id)).status == TargetStatus.FINISHED


async def test_sweeper_ends_a_call_open_too_long_despite_a_fresh_lease(world):
    campaign_id = await world.campaign(agent={"max_duration_s": 120})
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550225"}])
    stuck = world.worker(worker_id="stuck")
    claims, _ = await stuck.dispatcher.claim(
        world.clock.now(), 10, campaign_ids=[campaign_id]
    )
    sweeper = world.worker(worker_id="sweeper")

    for _ in range(10):
        world.clock.advance(20)
        async with transaction(world.sessionmaker) as session:
            await repository.renew_leases(
                session,
                "stuck",
                [claims[0].call_log_id],
                now=world.clock.now(),
                until=world.clock.now() + timedelta(seconds=30),
            )
        stats = await sweeper.sweep()
        if world.clock.now() - claims[0].claimed_at <= timedelta(seconds=180):
            assert stats.overdue == 0
    [log] = await world.call_logs(target_id)
    assert log.completed_at is not None
    assert log.call_ended_reason == "max-duration-reached"
    assert (await world.target(target_id)).status == TargetStatus.SCHEDULED


async def test_concurrency_and_rate_limits(world):
    campaign_id = await world.campaign(
        concurrency={"max_concurrent_calls": 2, "calls_per_second": 1000}
    )
    world.provider.default = FakeOutcome(delay_s=10)
    await world.add(
        campaign_id, [{"phone_number": f"+1212555023{i}"} for i in range(5)]
    )
    worker = world.worker()
    assert (await worker.step()).claimed == 2
    assert (await worker.step()).claimed == 0
    world.clock.advance(10)
    await worker.wait_idle()
    assert await open_calls(world, campaign_id) == 0
    assert (await worker.step()).claimed == 2

    slow = await world.campaign(
        concurrency={"max_concurrent_calls": 10, "calls_per_second": 0.5}
    )
    world.provider.default = FakeOutcome()
    await world.add(slow, [{"phone_number": f"+1212555024{i}"} for i in range(3)])
    rated = world.worker(campaign_ids=[slow])
    assert await world.step(rated) == 1
    world.clock.advance(1)
    assert await world.step(rated) == 0
    world.clock.advance(1)
    assert await world.step(rated) == 1


async def test_heartbeat_renews_only_this_workers_leases(world):
    campaign_id = await world.campaign()
    world.provider.default = FakeOutcome(delay_s=100)
    [target_id] = await world.add(campaign_id, [{"phone_number": "+12125550226"}])
    worker = world.worker()
    await worker.step()
    world.clock.advance(20)
    await worker.heartbeat()
    [log] = await world.call_logs(target_id)
    assert log.lease_expires_at == world.clock.now() + timedelta(seconds=30)
    assert log.heartbeat_at == world.clock.now()
    world.clock.advance(100)
    await worker.wait_idle()
