"""Dispatch benchmark: attempts per second and the lag from due to dialled.

Seeds ``--targets`` targets in ``--campaigns`` campaigns whose calls are instant
(the ``fake`` provider: answered, three lines, hung up, analysed), then runs
worker processes until every target is final:

- burst: every target due at once; attempts per second = attempts / time from
  the first claim to the last recorded attempt.
- paced: a fifth as many targets, due one after another at half the burst rate;
  lag = claim time - due time (p50, p99).

On SQLite with 1 worker, on PostgreSQL with 1 and 4. Beside it, on the same
PostgreSQL server, procrastinate runs as many no-op jobs with as many worker
processes; the ratio is our attempts per second over its jobs per second.
Every database is created here (``callfleet_bench_*``) and dropped afterwards.

    .venv/bin/python bench/dispatch.py --targets 100000 --campaigns 50
    .venv/bin/python bench/dispatch.py --targets 2000 --campaigns 5   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from callfleet.campaigns.settings import CampaignSettings, WeekSchedule  # noqa: E402
from callfleet.db.engine import (  # noqa: E402
    create_engine,
    create_sessionmaker,
    execute_on_server,
    migrate,
    transaction,
)
from callfleet.db.models import CallLog, Campaign, Organization, Target  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
WORKER_MAX_CALLS = 200
PROCRASTINATE_CONCURRENCY = 50
RUN_TIMEOUT_S = 900.0


def campaign_settings(index: int) -> dict:
    return CampaignSettings(
        name=f"bench {index}",
        calling_hours=WeekSchedule.always("UTC"),
        concurrency={"max_concurrent_calls": 1000, "calls_per_second": 1000},
        telephony={"provider": "fake"},
        retry_policy={"max_attempts": 1},
        post_call={"summary": False},
    ).model_dump(mode="json")


async def seed(url: str, targets: int, campaigns: int, start: datetime, rate: float):
    """Campaigns and Scheduled targets; target i is due at start + i / rate (all at
    ``start`` when rate is 0). The due time is kept in launched_at."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    async with transaction(sessionmaker) as session:
        org = Organization(name=f"bench-{uuid.uuid4().hex[:10]}")
        session.add(org)
        await session.flush()
        campaign_rows = [
            Campaign(
                organization_id=org.id,
                name=f"bench {i}",
                status="active",
                settings=campaign_settings(i),
                created_at=start,
                updated_at=start,
            )
            for i in range(campaigns)
        ]
        session.add_all(campaign_rows)
        await session.flush()
        campaign_ids = [c.id for c in campaign_rows]
    rows = []
    for i in range(targets):
        due = start + timedelta(seconds=i / rate) if rate else start
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "organization_id": org.id,
                "campaign_id": campaign_ids[i % campaigns],
                "phone_number": f"+1212{5550000 + i % 10000:07d}",
                "timezones": ["America/New_York"],
                "input_data": {},
                "output_data": {},
                "content_hash": "bench",
                "status": "Scheduled",
                "next_attempt_at": due,
                "launched_at": due,
                "queue_rank": i,
                "attempt": 0,
                "max_attempts": 1,
                "created_at": start,
                "updated_at": start,
            }
        )
    for chunk in range(0, len(rows), 5000):
        async with transaction(sessionmaker) as session:
            await session.execute(insert(Target), rows[chunk : chunk + 5000])
    await engine.dispose()
    return campaign_ids


def _worker_process(url: str, campaign_ids: list[str], ready, go) -> None:
    asyncio.run(_worker_main(url, campaign_ids, ready, go))


async def _worker_main(url: str, campaign_ids: list[str], ready, go) -> None:
    import callfleet.telephony.fake  # noqa: F401  (registers "fake")
    from callfleet.clock import SystemClock
    from callfleet.config import Config
    from callfleet.logging import configure_logging
    from callfleet.scheduling import repository
    from callfleet.scheduling.worker import Worker

    configure_logging("ERROR")
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    config = Config(database_url=url, worker_poll_interval_s=0.02)
    worker = Worker(
        sessionmaker,
        config=config,
        clock=SystemClock(),
        campaign_ids=campaign_ids,
        max_calls=WORKER_MAX_CALLS,
        deliver_webhooks=False,
    )
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.2)
            async with sessionmaker() as session:
                left = await session.scalar(
                    select(Target.id)
                    .where(
                        Target.campaign_id.in_(campaign_ids),
                        Target.status.in_(repository.OPEN_STATUSES),
                    )
                    .limit(1)
                )
            if left is None:
                stop.set()

    ready.set()
    await asyncio.to_thread(go.wait)
    watcher = asyncio.create_task(watch())
    await worker.run(stop)
    await watcher
    await engine.dispose()


def run_workers(url: str, campaign_ids: list[str], workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    processes = []
    readies = []
    for _ in range(workers):
        ready = context.Event()
        process = context.Process(
            target=_worker_process, args=(url, campaign_ids, ready, go)
        )
        process.start()
        processes.append(process)
        readies.append(ready)
    for ready in readies:
        ready.wait(120)
    started = time.perf_counter()
    go.set()
    for process in processes:
        process.join(max(1.0, RUN_TIMEOUT_S - (time.perf_counter() - started)))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()
            raise RuntimeError(f"workers did not finish within {RUN_TIMEOUT_S} s")
    return time.perf_counter() - started


@dataclass
class Measure:
    attempts: int
    attempts_per_s: float
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None


async def measure(url: str, campaign_ids: list[str], lag: bool) -> Measure:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        count, first, last = (
            await session.execute(
                select(
                    func.count(),
                    func.min(CallLog.created_at),
                    func.max(CallLog.completed_at),
                ).where(CallLog.campaign_id.in_(campaign_ids))
            )
        ).one()
        lags = []
        if lag:
            rows = await session.execute(
                select(CallLog.created_at, Target.launched_at)
                .join(Target, Target.id == CallLog.target_id)
                .where(CallLog.campaign_id.in_(campaign_ids))
            )
            lags = [
                (_aware(created) - _aware(due)).total_seconds() * 1000
                for created, due in rows
            ]
    await engine.dispose()
    span = (_aware(last) - _aware(first)).total_seconds() if count else 0
    result = Measure(count, count / span if span else 0.0)
    if lags:
        lags.sort()
        result.lag_p50_ms = statistics.median(lags)
        result.lag_p99_ms = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return result


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def bench_callfleet(url: str, targets: int, campaigns: int, workers: int):
    migrate(url)
    now = datetime.now(UTC)
    burst_ids = asyncio.run(seed(url, targets, campaigns, now, 0))
    run_workers(url, burst_ids, workers)
    burst = asyncio.run(measure(url, burst_ids, lag=False))

    paced_count = max(1, targets // 5)
    rate = max(1.0, burst.attempts_per_s / 2)
    start = datetime.now(UTC) + timedelta(seconds=3)
    paced_ids = asyncio.run(seed(url, paced_count, campaigns, start, rate))
    run_workers(url, paced_ids, workers)
    paced = asyncio.run(measure(url, paced_ids, lag=True))
    return burst, paced, rate


# --- procrastinate -------------------------------------------------------------


def _procrastinate_app(conninfo: str):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app, noop


def _procrastinate_worker(conninfo: str, ready, go) -> None:
    async def main() -> None:
        app, _ = _procrastinate_app(conninfo)
        async with app.open_async():
            ready.set()
            await asyncio.to_thread(go.wait)
            await app.run_worker_async(
                concurrency=PROCRASTINATE_CONCURRENCY,
                wait=False,
                listen_notify=False,
                install_signal_handlers=False,
                delete_jobs="never",
            )

    asyncio.run(main())


def bench_procrastinate(conninfo: str, jobs: int, workers: int) -> float:
    async def prepare() -> None:
        app, noop = _procrastinate_app(conninfo)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for chunk in range(0, jobs, 5000):
                await noop.batch_defer_async(
                    *({} for _ in range(min(5000, jobs - chunk)))
                )

    asyncio.run(prepare())
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    processes, readies = [], []
    for _ in range(workers):
        ready = context.Event()
        process = context.Process(
            target=_procrastinate_worker, args=(conninfo, ready, go)
        )
        process.start()
        processes.append(process)
        readies.append(ready)
    for ready in readies:
        ready.wait(120)
    started = time.perf_counter()
    go.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    return jobs / elapsed


# --- databases -----------------------------------------------------------------


def _admin(server: str, statement: str) -> None:
    asyncio.run(execute_on_server(server, statement))


class PostgresDatabase:
    def __init__(self, server: str, label: str) -> None:
        self.server = server
        self.name = f"callfleet_bench_{label}_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> PostgresDatabase:
        _admin(self.server, f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        _admin(self.server, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return (
            make_url(self.server)
            .set(drivername="postgresql+asyncpg", database=self.name)
            .render_as_string(hide_password=False)
        )

    @property
    def conninfo(self) -> str:
        return (
            make_url(self.server)
            .set(drivername="postgresql", database=self.name)
            .render_as_string(hide_password=False)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--postgres", default=POSTGRES, help="server to bench on")
    parser.add_argument("--workers", default="1,4", help="PostgreSQL worker counts")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",") if n]

    rows = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            burst, paced, rate = bench_callfleet(url, args.targets, args.campaigns, 1)
            rows.append(("sqlite", 1, burst, paced, rate, None))
    if not args.no_postgres:
        for workers in worker_counts:
            with PostgresDatabase(args.postgres, "engine") as database:
                burst, paced, rate = bench_callfleet(
                    database.url, args.targets, args.campaigns, workers
                )
            with PostgresDatabase(args.postgres, "procrastinate") as database:
                baseline = bench_procrastinate(database.conninfo, args.targets, workers)
            rows.append(("postgresql", workers, burst, paced, rate, baseline))

    print()
    print(
        f"dispatch: {args.targets} targets in {args.campaigns} campaigns, instant "
        "fake calls; paced run: a fifth as many targets due at half the burst rate"
    )
    header = (
        f"{'database':<11}{'workers':>8}{'attempts':>10}{'attempts/s':>12}"
        f"{'paced/s':>9}{'lag p50 ms':>12}{'lag p99 ms':>12}"
        f"{'procr. jobs/s':>15}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for database, workers, burst, paced, rate, baseline in rows:
        ratio = f"{burst.attempts_per_s / baseline:.2f}" if baseline else "-"
        base = f"{baseline:.0f}" if baseline else "-"
        print(
            f"{database:<11}{workers:>8}{burst.attempts:>10}"
            f"{burst.attempts_per_s:>12.0f}{rate:>9.0f}"
            f"{paced.lag_p50_ms or 0:>12.0f}{paced.lag_p99_ms or 0:>12.0f}"
            f"{base:>15}{ratio:>7}"
        )


if __name__ == "__main__":
    main()
