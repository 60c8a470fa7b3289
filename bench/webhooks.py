"""Webhook delivery benchmark on loopback.

Measures deliveries per second of the delivery worker to a local receiver
(a separate process on 127.0.0.1), against a bare httpx loop posting the same
signed payloads to the same receiver with the same concurrency, and the delay
from an event's ``created_at`` (the end of post-processing) to its receipt.

With a PostgreSQL URL a database ``callfleet_bench_webhooks_*`` is created on
that server and dropped afterwards; the database named in the URL is only used
to connect.

    .venv/bin/python bench/webhooks.py --events 2000
    .venv/bin/python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callfleet.clock import SystemClock  # noqa: E402
from callfleet.config import Config  # noqa: E402
from callfleet.db.engine import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    execute_on_server,
    migrate,
    transaction,
)
from callfleet.db.models import (  # noqa: E402
    CallLog,
    Campaign,
    Organization,
    Target,
    WebhookEndpoint,
)
from callfleet.logging import configure_logging  # noqa: E402
from callfleet.notifications import outbox, signing, subscriptions  # noqa: E402
from callfleet.notifications.delivery import DeliveryWorker, encode  # noqa: E402

PER_ENDPOINT = 8


# --- the receiver, run in a process of its own ---------------------------------


def serve_receiver(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    received: list[tuple[str, float]] = []

    async def hook(request: Request) -> Response:
        await request.body()
        received.append((request.headers.get("webhook-id", ""), time.time()))
        return Response("ok")

    async def stats(_request: Request) -> Response:
        return JSONResponse(received)

    async def count(_request: Request) -> Response:
        return Response(str(len(received)))

    async def reset(_request: Request) -> Response:
        received.clear()
        return Response("ok")

    app = Starlette(
        routes=[
            Route("/hooks", hook, methods=["POST"]),
            Route("/stats", stats),
            Route("/count", count),
            Route("/reset", reset, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-receiver", str(port)]
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/stats", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("receiver did not start")


# --- helpers -------------------------------------------------------------------


async def seed(sessionmaker, url: str, targets: int):  # noqa: ANN001, ANN201
    now = datetime.now(UTC)
    async with transaction(sessionmaker) as session:
        organization = Organization(name=f"bench-{uuid.uuid4().hex[:8]}")
        session.add(organization)
        await session.flush()
        campaign = Campaign(organization_id=organization.id, name="bench", settings={})
        session.add(campaign)
        await session.flush()
        endpoint = WebhookEndpoint(
            organization_id=organization.id,
            campaign_id=campaign.id,
            url=url,
            events=["campaign_target_finished"],
            secret=subscriptions.generate_secret(),
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
        rows = [
            Target(
                organization_id=organization.id,
                campaign_id=campaign.id,
                phone_number="+12015550123",
                content_hash=uuid.uuid4().hex,
                status="Finished",
            )
            for _ in range(targets)
        ]
        session.add_all(rows)
        await session.flush()
        return campaign, endpoint, [t.id for t in rows]


async def emit(sessionmaker, target_ids: list[str]) -> None:  # noqa: ANN001
    """The engine's step: finish attempts and queue their webhooks together."""
    async with transaction(sessionmaker) as session:
        for target_id in target_ids:
            target = await session.get(Target, target_id)
            target.attempt += 1
            call_log = CallLog(
                organization_id=target.organization_id,
                campaign_id=target.campaign_id,
                target_id=target.id,
                attempt=target.attempt,
                to_number=target.phone_number,
                from_number="+12015550100",
                provider="simulator",
                state="completed",
                completed_at=datetime.now(UTC),
            )
            session.add(call_log)
            await session.flush()
            await outbox.emit_target_finished(
                session,
                target=target,
                call_log=call_log,
                next_attempt_at=None,
                now=datetime.now(UTC),
            )


async def created_times(sessionmaker) -> dict[str, float]:  # noqa: ANN001
    from sqlalchemy import select

    from callfleet.db.models import WebhookEvent

    async with transaction(sessionmaker) as session:
        rows = await session.execute(select(WebhookEvent.id, WebhookEvent.created_at))
        return {event_id: created.timestamp() for event_id, created in rows}


async def wait_received(
    base: str, count: int, *, every_s: float = 0.02, timeout_s: float = 600
) -> list:
    """What the receiver got, once it got ``count`` posts. The polls ask for a
    count only: the whole list is large and parsing it would load the process
    whose worker is being measured."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            landed = int((await client.get(f"{base}/count")).text)
            if landed >= count or time.monotonic() > deadline:
                return (await client.get(f"{base}/stats")).json()
            await asyncio.sleep(every_s)


async def baseline(base: str, payloads: list[tuple[str, bytes]], secret: str) -> float:
    """A bare httpx loop: the same signed bodies, the same concurrency."""
    limits = httpx.Limits(max_connections=PER_ENDPOINT)
    gate = asyncio.Semaphore(PER_ENDPOINT)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def post(event_id: str, body: bytes) -> None:
            headers = signing.signed_headers(
                [secret], event_id, datetime.now(UTC), body
            )
            headers["content-type"] = "application/json"
            async with gate:
                response = await client.post(
                    f"{base}/hooks", content=body, headers=headers
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(i, b) for i, b in payloads))
        return len(payloads) / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@asynccontextmanager
async def bench_database(database_url: str | None) -> AsyncIterator[str]:
    """A fresh database for one run: a temporary SQLite file, or a PostgreSQL
    database of its own that is dropped afterwards."""
    if database_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name = f"callfleet_bench_webhooks_{uuid.uuid4().hex[:10]}"
    await execute_on_server(database_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(database_url).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        await execute_on_server(
            database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )


# --- the run -------------------------------------------------------------------


async def run(events: int, database_url: str | None, latency_events: int) -> None:
    async with bench_database(database_url) as url:
        await measure(events, url, latency_events)


async def measure(events: int, database_url: str, latency_events: int) -> None:
    await asyncio.to_thread(migrate, database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    process, base = start_receiver()
    try:
        _, endpoint, target_ids = await seed(
            sessionmaker, f"{base}/hooks", events + latency_events
        )
        config = Config(database_url=database_url, webhook_allow_private=True)
        worker = DeliveryWorker(
            sessionmaker, config, SystemClock(), per_endpoint=PER_ENDPOINT
        )

        # Throughput: everything queued at once, the worker drains it.
        for start in range(0, events, 200):
            await emit(sessionmaker, target_ids[start : start + 200])
        stop = asyncio.Event()
        # The rate runs to the last receipt as the receiver timed it, so the
        # polls can be rare and take little from the worker's process.
        began = time.time()
        task = asyncio.create_task(worker.run(stop))
        received = await wait_received(base, events, every_s=0.25)
        worker_rate = len(received) / (max(at for _, at in received) - began)
        stop.set()
        await task

        # The same bodies through a bare httpx loop.
        from sqlalchemy import select

        from callfleet.db.models import WebhookEvent

        async with transaction(sessionmaker) as session:
            stored = list(await session.scalars(select(WebhookEvent)))
        payloads = [
            (e.id, encode(outbox.ordered(e.event_type, e.payload))) for e in stored
        ]
        async with httpx.AsyncClient() as client:
            await client.post(f"{base}/reset")
            bare_rate = await baseline(base, payloads, endpoint.secret)
            await client.post(f"{base}/reset")

        # Delay: events finish one by one while the worker idles between them.
        stop = asyncio.Event()
        worker = DeliveryWorker(
            sessionmaker, config, SystemClock(), per_endpoint=PER_ENDPOINT
        )
        task = asyncio.create_task(worker.run(stop))
        for target_id in target_ids[events:]:
            await emit(sessionmaker, [target_id])
            await asyncio.sleep(0.02)
        received = await wait_received(base, latency_events)
        stop.set()
        await task
        created = await created_times(sessionmaker)
        delays = [
            (arrived - created[event_id]) * 1000
            for event_id, arrived in received
            if event_id in created
        ]
    finally:
        process.terminate()
        process.wait()
        await engine.dispose()

    backend = "postgresql" if "postgres" in database_url else "sqlite"
    print(f"database: {backend}; events: {events}; concurrency: {PER_ENDPOINT}")
    print(f"worker:     {worker_rate:8.1f} deliveries/s")
    print(f"bare httpx: {bare_rate:8.1f} posts/s")
    print(f"ratio worker/bare: {worker_rate / bare_rate:.2f}")
    print(
        f"delay created_at->receipt over {len(delays)} events: "
        f"p50 {statistics.median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--serve-receiver", type=int, default=None, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return
    configure_logging("INFO")
    asyncio.run(run(args.events, args.database_url, args.latency_events))


if __name__ == "__main__":
    main()
