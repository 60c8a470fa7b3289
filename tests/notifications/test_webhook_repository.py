"""Claiming and recording deliveries, straight against the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webhook_support import finish_attempt, new_secret, seed

from callfleet.clock import FakeClock
from callfleet.db.engine import create_engine, create_sessionmaker, transaction
from callfleet.db.models import WebhookDelivery, WebhookDeliveryAttempt
from callfleet.notifications import repository
from callfleet.notifications.repository import AttemptResult, ClaimedDelivery

LEASE = timedelta(minutes=1)
URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
async def sessionmaker(
    fresh_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(fresh_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    token: str,
    *,
    room: int = 10,
    endpoint_room: dict[str, int] | None = None,
) -> list[ClaimedDelivery]:
    async with transaction(sessionmaker) as session:
        await repository.release_expired(session, clock.now())
        return await repository.claim(
            session,
            now=clock.now(),
            token=token,
            lease=LEASE,
            room=room,
            endpoint_room=endpoint_room or {},
            per_endpoint=room,
            skip_locked=sessionmaker.kw["bind"].dialect.name == "postgresql",
        )


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], results: list[AttemptResult]
) -> None:
    async with transaction(sessionmaker) as session:
        await repository.record(session, results)


def result(
    job: ClaimedDelivery,
    clock: FakeClock,
    status_code: int | None,
    *,
    next_attempt_at: object = None,
) -> AttemptResult:
    succeeded = status_code is not None and 200 <= status_code < 300
    return AttemptResult(
        delivery_id=job.id,
        token=job.token,
        attempted_at=clock.now(),
        status_code=status_code,
        latency_ms=12.5,
        response_excerpt="ok" if succeeded else "no",
        error=None if succeeded else f"HTTP {status_code}",
        succeeded=succeeded,
        next_attempt_at=next_attempt_at,  # type: ignore[arg-type]
    )


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, object]:
    async with transaction(sessionmaker) as session:
        return {d.id: d for d in await session.scalars(select(WebhookDelivery))}


async def attempts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[WebhookDeliveryAttempt]:
    async with transaction(sessionmaker) as session:
        return list(
            await session.scalars(
                select(WebhookDeliveryAttempt).order_by(WebhookDeliveryAttempt.id)
            )
        )


async def test_claim_leases_with_everything_needed_to_send(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    secret = new_secret()
    seeded = await seed(
        sessionmaker, urls_and_secrets=[(URL, secret)], targets=3, now=clock.now()
    )
    for target_id in seeded.target_ids:
        await finish_attempt(sessionmaker, target_id, clock.now(), final=True)

    jobs = await claim(sessionmaker, clock, "w/1", room=2)
    assert len(jobs) == 2
    assert all(job.url == URL and job.secret == secret for job in jobs)
    assert {job.target_id for job in jobs} <= set(seeded.target_ids)
    assert all(job.payload["event_id"] == job.event_id for job in jobs)
    assert all(job.token == "w/1" and job.attempts == 0 for job in jobs)

    stored = await rows(sessionmaker)
    leased = [d for d in stored.values() if d.status == "delivering"]
    assert {d.id for d in leased} == {job.id for job in jobs}
    assert all(d.locked_by == "w/1" for d in leased)
    assert all(d.locked_until == clock.now() + LEASE for d in leased)

    # The endpoint has no room left for this worker: nothing more is leased.
    assert (
        await claim(
            sessionmaker, clock, "w/2", endpoint_room={seeded.endpoint_ids[0]: 0}
        )
        == []
    )
    (last,) = await claim(sessionmaker, clock, "w/3")
    assert last.id not in {job.id for job in jobs}


async def test_record_settles_a_batch_of_mixed_outcomes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    seeded = await seed(
        sessionmaker, urls_and_secrets=[(URL, new_secret())], targets=3, now=clock.now()
    )
    for target_id in seeded.target_ids:
        await finish_attempt(sessionmaker, target_id, clock.now(), final=True)
    ok, retried, given_up = await claim(sessionmaker, clock, "w/1")
    clock.advance(seconds=2)
    retry_at = clock.now() + timedelta(seconds=30)

    await record(
        sessionmaker,
        [
            result(ok, clock, 200),
            result(retried, clock, 503, next_attempt_at=retry_at),
            result(given_up, clock, None),
        ],
    )

    stored = await rows(sessionmaker)
    assert stored[ok.id].status == "succeeded"
    assert stored[ok.id].succeeded_at == clock.now()
    assert stored[retried.id].status == "pending"
    assert stored[retried.id].next_attempt_at == retry_at
    assert stored[retried.id].last_error == "HTTP 503"
    assert stored[given_up.id].status == "failed"
    assert stored[given_up.id].failed_at == clock.now()
    for row in stored.values():
        assert row.attempts == 1 and row.locked_by is None and row.locked_until is None
        assert row.updated_at == clock.now()
    logged = {a.delivery_id: a for a in await attempts(sessionmaker)}
    assert logged[ok.id].status_code == 200 and logged[ok.id].response_excerpt == "ok"
    assert logged[retried.id].status_code == 503
    assert logged[given_up.id].status_code is None
    assert {a.latency_ms for a in logged.values()} == {12.5}


async def test_record_leaves_a_lease_taken_over_to_its_new_owner(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    seeded = await seed(
        sessionmaker, urls_and_secrets=[(URL, new_secret())], targets=1, now=clock.now()
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    (first,) = await claim(sessionmaker, clock, "slow/1")
    clock.advance(seconds=LEASE.total_seconds() + 1)
    (second,) = await claim(sessionmaker, clock, "other/1")
    assert second.id == first.id and second.event_id == first.event_id

    # The first worker's late answer is logged but does not settle the delivery.
    await record(sessionmaker, [result(first, clock, 200)])
    (row,) = (await rows(sessionmaker)).values()
    assert row.status == "delivering" and row.locked_by == "other/1"
    assert row.attempts == 0

    await record(sessionmaker, [result(second, clock, 200)])
    (row,) = (await rows(sessionmaker)).values()
    assert row.status == "succeeded" and row.attempts == 1
    assert len(await attempts(sessionmaker)) == 2


async def test_campaign_finished_waits_for_the_target_events_before_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from callfleet.db.models import Campaign
    from callfleet.notifications.outbox import emit_campaign_finished

    clock = FakeClock()
    seeded = await seed(
        sessionmaker, urls_and_secrets=[(URL, new_secret())], targets=1, now=clock.now()
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    async with transaction(sessionmaker) as session:
        campaign = await session.get(Campaign, seeded.campaign_id)
        await emit_campaign_finished(session, campaign=campaign, now=clock.now())

    (first,) = await claim(sessionmaker, clock, "w/1")
    assert first.target_id == seeded.target_ids[0]
    # The target's event is in flight: the campaign's last word waits for it.
    assert await claim(sessionmaker, clock, "w/2") == []

    await record(sessionmaker, [result(first, clock, 200)])
    (last,) = await claim(sessionmaker, clock, "w/3")
    assert last.target_id is None
    assert last.payload["event"] == "campaign_finished"
