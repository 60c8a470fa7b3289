"""The delivery worker against a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webhook_support import Receiver, finish_attempt, new_secret, seed, wait_for

from callfleet.clock import FakeClock
from callfleet.config import Config
from callfleet.db.engine import create_engine, create_sessionmaker, transaction
from callfleet.db.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)
from callfleet.notifications import delivery, subscriptions
from callfleet.notifications.delivery import DeliveryWorker

CONFIG = Config(webhook_allow_private=True)


@pytest.fixture
async def sessionmaker(
    fresh_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(fresh_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(secrets=[new_secret()]).start()
    yield started
    started.stop()


async def deliveries(sessionmaker: async_sessionmaker[AsyncSession]) -> list:
    async with transaction(sessionmaker) as session:
        return list(
            await session.scalars(
                select(WebhookDelivery).order_by(
                    WebhookDelivery.target_id, WebhookDelivery.sequence
                )
            )
        )


async def attempts_of(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: str
) -> list[WebhookDeliveryAttempt]:
    async with transaction(sessionmaker) as session:
        return list(
            await session.scalars(
                select(WebhookDeliveryAttempt)
                .where(WebhookDeliveryAttempt.delivery_id == delivery_id)
                .order_by(WebhookDeliveryAttempt.id)
            )
        )


async def run_worker_until(worker: DeliveryWorker, predicate) -> None:  # noqa: ANN001
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(predicate)
    finally:
        stop.set()
        await task


async def test_receiver_down_then_up_gets_everything_once_in_order(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    receiver = Receiver(secrets=[new_secret()])  # not listening yet
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=3,
        now=clock.now(),
    )
    for target_id in seeded.target_ids:
        await finish_attempt(
            sessionmaker,
            target_id,
            clock.now(),
            final=False,
            next_attempt_at=clock.now() + timedelta(hours=2),
        )
        await finish_attempt(sessionmaker, target_id, clock.now(), final=True)

    worker = DeliveryWorker(sessionmaker, CONFIG, clock)
    # Only the first event of each target goes out while the second waits.
    assert await worker.drain() == 3
    rows = await deliveries(sessionmaker)
    assert {(d.sequence, d.status) for d in rows} == {(1, "pending"), (2, "pending")}
    assert all(d.attempts == 1 for d in rows if d.sequence == 1)

    receiver.start()
    try:
        clock.advance(delivery.BACKOFF_S[0])
        await run_worker_until(worker, lambda: len(receiver.received) >= 6)
    finally:
        receiver.stop()

    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 6
    assert all(r.verified_by == receiver.secrets for r in receiver.received)
    for target_id in seeded.target_ids:
        mine = [
            r.payload for r in receiver.received if r.payload["target_id"] == target_id
        ]
        assert [p["next_attempt_scheduled"] is None for p in mine] == [False, True]
        assert [p["attempt"] for p in mine] == [1, 2]
    rows = await deliveries(sessionmaker)
    assert {d.status for d in rows} == {"succeeded"}
    first = next(d for d in rows if d.sequence == 1)
    log = await attempts_of(sessionmaker, first.id)
    assert [a.status_code for a in log] == [None, 200]
    assert "ConnectError" in (log[0].error or "")


async def test_error_then_success_retries_with_backoff_and_logs_attempts(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    receiver.statuses = [500, 503, 200]
    receiver.body = "x" * 5000
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    worker = DeliveryWorker(sessionmaker, CONFIG, clock)

    for attempt, cap in ((1, 5), (2, 30)):
        assert await worker.drain() == 1
        (row,) = await deliveries(sessionmaker)
        assert row.status == "pending" and row.attempts == attempt
        wait = (row.next_attempt_at - clock.now()).total_seconds()
        assert delivery.MIN_DELAY_S <= wait <= cap
        assert await worker.drain() == 0  # not due yet
        clock.set(row.next_attempt_at)

    assert await worker.drain() == 1
    (row,) = await deliveries(sessionmaker)
    assert row.status == "succeeded" and row.last_status_code == 200
    log = await attempts_of(sessionmaker, row.id)
    assert [a.status_code for a in log] == [500, 503, 200]
    assert all(len(a.response_excerpt or "") == 1000 for a in log)
    assert log[0].error == "HTTP 500" and log[2].error is None
    assert len(set(receiver.ids())) == 1


async def test_gives_up_after_about_a_day(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    start = clock.now()
    receiver.status_for = lambda _: 500
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    worker = DeliveryWorker(sessionmaker, CONFIG, clock)
    while True:
        await worker.drain()
        (row,) = await deliveries(sessionmaker)
        if row.status == "failed":
            break
        clock.set(row.next_attempt_at)
    assert row.failed_at == start + timedelta(hours=24)
    assert row.attempts == len(receiver.received) >= 6
    assert len(set(receiver.ids())) == 1


async def test_hanging_receiver_times_out_and_is_retried(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    receiver.hang_s = 3
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    worker = DeliveryWorker(sessionmaker, CONFIG, clock, timeout_s=0.3)
    await worker.drain()
    (row,) = await deliveries(sessionmaker)
    assert row.status == "pending"
    assert "timeout" in (row.last_error or "")

    receiver.hang_s = 0
    clock.set(row.next_attempt_at)
    await worker.drain()
    (row,) = await deliveries(sessionmaker)
    assert row.status == "succeeded"
    assert [a.status_code for a in await attempts_of(sessionmaker, row.id)] == [
        None,
        200,
    ]


async def test_redirect_is_a_failure(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    receiver.statuses = [307]
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)
    await DeliveryWorker(sessionmaker, CONFIG, clock).drain()
    (row,) = await deliveries(sessionmaker)
    assert row.status == "pending" and row.last_status_code == 307
    assert "redirect" in (row.last_error or "")
    assert len(receiver.received) == 1


async def test_worker_killed_after_send_is_resent_with_same_webhook_id(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    await finish_attempt(sessionmaker, seeded.target_ids[0], clock.now(), final=True)

    receiver.hold.clear()
    first = DeliveryWorker(sessionmaker, CONFIG, clock, worker_id="first")
    task = asyncio.create_task(first.run(asyncio.Event()))
    await wait_for(receiver.landed.is_set)
    # The POST landed; the worker dies before it can record the answer.
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    receiver.hold.set()

    (row,) = await deliveries(sessionmaker)
    assert row.status == "delivering" and row.locked_by.startswith("first/")
    second = DeliveryWorker(sessionmaker, CONFIG, clock, worker_id="second")
    assert await second.drain() == 0  # the lease still holds

    clock.advance(seconds=first.lease.total_seconds() + 1)
    assert await second.drain() == 1
    (row,) = await deliveries(sessionmaker)
    assert row.status == "succeeded" and row.locked_by is None
    ids = receiver.ids()
    assert len(ids) == 2 and ids[0] == ids[1] == row.event_id
    assert len(await attempts_of(sessionmaker, row.id)) == 1


async def test_slow_endpoint_does_not_hold_up_others(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    slow = Receiver(secrets=[new_secret()]).start()
    slow.hold.clear()
    try:
        seeded = await seed(
            sessionmaker,
            urls_and_secrets=[
                (slow.url, slow.secrets[0]),
                (receiver.url, receiver.secrets[0]),
            ],
            targets=10,
            now=clock.now(),
        )
        for target_id in seeded.target_ids:
            await finish_attempt(sessionmaker, target_id, clock.now(), final=True)
        worker = DeliveryWorker(sessionmaker, CONFIG, clock, per_endpoint=2)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await wait_for(lambda: len(receiver.received) == 10)
            # The held receiver has only its per-endpoint share in flight.
            assert len(slow.received) == 2
            slow.hold.set()
            await wait_for(lambda: len(slow.received) == 10)
        finally:
            slow.hold.set()
            stop.set()
            await task
    finally:
        slow.stop()
    rows = await deliveries(sessionmaker)
    assert len(rows) == 20 and {d.status for d in rows} == {"succeeded"}


async def test_rotation_signs_with_both_secrets_during_grace(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    old = new_secret()
    receiver = Receiver(secrets=[old]).start()
    try:
        seeded = await seed(
            sessionmaker,
            urls_and_secrets=[(receiver.url, old)],
            targets=2,
            now=clock.now(),
        )
        async with transaction(sessionmaker) as session:
            endpoint = await session.get(WebhookEndpoint, seeded.endpoint_ids[0])
            new = subscriptions.rotate_secret(endpoint, clock.now())
        receiver.secrets = [old, new]
        worker = DeliveryWorker(sessionmaker, CONFIG, clock)

        await finish_attempt(
            sessionmaker, seeded.target_ids[0], clock.now(), final=True
        )
        await worker.drain()
        assert receiver.received[-1].verified_by == [old, new]
        assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 2

        clock.advance(hours=25)
        await finish_attempt(
            sessionmaker, seeded.target_ids[1], clock.now(), final=True
        )
        await worker.drain()
        assert receiver.received[-1].verified_by == [new]
    finally:
        receiver.stop()


async def test_outbox_rolls_back_with_its_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    with pytest.raises(RuntimeError):
        async with transaction(sessionmaker) as session:
            from callfleet.db.models import Target
            from callfleet.notifications import outbox

            target = await session.get(Target, seeded.target_ids[0])
            await outbox.emit_target_finished(
                session,
                target=target,
                call_log=None,
                next_attempt_at=None,
                now=clock.now(),
            )
            raise RuntimeError("the state change failed")
    async with transaction(sessionmaker) as session:
        assert list(await session.scalars(select(WebhookEvent))) == []
    assert await DeliveryWorker(sessionmaker, CONFIG, clock).drain() == 0
    assert receiver.received == []


async def test_payload_keys_follow_prosper_then_ours(
    sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    clock = FakeClock()
    seeded = await seed(
        sessionmaker,
        urls_and_secrets=[(receiver.url, receiver.secrets[0])],
        targets=1,
        now=clock.now(),
    )
    retry_at = clock.now() + timedelta(hours=2)
    await finish_attempt(
        sessionmaker,
        seeded.target_ids[0],
        clock.now(),
        final=False,
        next_attempt_at=retry_at,
    )
    await DeliveryWorker(sessionmaker, CONFIG, clock).drain()
    (item,) = receiver.received
    assert list(item.payload) == [
        "campaign_id",
        "call_log_id",
        "target_id",
        "attempt",
        "max_attempts",
        "next_attempt_scheduled",
        "event",
        "event_id",
        "status",
        "category",
        "subcategory",
        "resolution",
        "outcome",
        "organization_id",
        "external_id",
        "timestamp",
    ]
    assert item.payload["event_id"] == item.webhook_id
    assert item.webhook_id.startswith("msg_")
    assert item.payload["next_attempt_scheduled"] == "2026-01-05T16:00:00.000Z"
    assert item.payload["external_id"] == "ext-0"
    assert item.payload["campaign_id"] == seeded.campaign_id
