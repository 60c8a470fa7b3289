"""Worker processes on one PostgreSQL database, killed with SIGKILL mid-call and
restarted: no attempt is lost or doubled, and nothing stays open."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from callfleet.campaigns import service as campaigns
from callfleet.campaigns.settings import CampaignSettings, WeekSchedule
from callfleet.db.engine import create_engine, create_sessionmaker, migrate, transaction
from callfleet.db.models import CallLog, Target
from callfleet.organizations import service as organizations
from callfleet.targets import service as targets
from callfleet.targets.status import FINAL_STATUSES, TargetStatus
from testsupport import fresh_database_url

pytestmark = pytest.mark.skipif(
    not os.environ.get("CALLFLEET_TEST_DATABASE_URL"), reason="PostgreSQL only"
)

WORKERS = 3
TARGETS = 60
KILL_FOR_S = 24.0
SETTLE_WITHIN_S = 25.0

# Invariants that must hold in every snapshot: no target with two open attempts,
# and a target is In Progress exactly when it has one open attempt.
DOUBLE_OPEN = text(
    "SELECT count(*) FROM (SELECT target_id FROM call_logs "
    "WHERE completed_at IS NULL GROUP BY target_id HAVING count(*) > 1) AS doubled"
)
LIVE_WITHOUT_CALL = text(
    "SELECT count(*) FROM targets t WHERE t.status IN ('In Progress', "
    "'Post-processing') AND NOT EXISTS (SELECT 1 FROM call_logs c WHERE "
    "c.target_id = t.id AND c.completed_at IS NULL)"
)


async def seed(url: str) -> str:
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            org = await organizations.get_or_create_organization(session, "kill")
            settings = CampaignSettings(
                name="kill test",
                calling_hours=WeekSchedule.always("UTC"),
                concurrency={"max_concurrent_calls": 6, "calls_per_second": 50},
                retry_policy={
                    "max_attempts": 6,
                    "rules": {"interrupted": {"delay_minutes": 0}},
                },
                telephony={
                    "provider": "simulator",
                    "simulation": {"time_scale": 0.03, "scenarios": {"cooperative": 1}},
                },
            )
            campaign, _ = await campaigns.create(
                session, org.id, settings, datetime.now(UTC)
            )
            await targets.add_targets(
                session,
                org.id,
                campaign.id,
                [{"phone_number": f"+1212555{i:04d}"} for i in range(TARGETS)],
                launch=True,
                allow_duplicates=True,
                default_region="US",
                max_targets=1000,
                now=datetime.now(UTC),
            )
        return campaign.id
    finally:
        await engine.dispose()


def start_worker(url: str, log_file) -> subprocess.Popen:
    env = {
        **os.environ,
        "CALLFLEET_DATABASE_URL": url,
        "CALLFLEET_LEASE_SECONDS": "2",
        "CALLFLEET_HEARTBEAT_SECONDS": "0.5",
        "CALLFLEET_WORKER_POLL_INTERVAL_S": "0.05",
        "CALLFLEET_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "callfleet.cli", "worker"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


async def snapshot(url: str) -> tuple[int, int, int, int]:
    """(doubled, live without call, open call logs, targets not settled)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            doubled = await connection.scalar(DOUBLE_OPEN)
            orphaned = await connection.scalar(LIVE_WITHOUT_CALL)
            open_calls = await connection.scalar(
                select(func.count()).where(CallLog.completed_at.is_(None))
            )
            unsettled = await connection.scalar(
                select(func.count()).where(
                    Target.status.not_in(
                        [s.value for s in FINAL_STATUSES]
                        + [TargetStatus.SCHEDULED.value]
                    )
                )
            )
        return doubled, orphaned, open_calls, unsettled
    finally:
        await engine.dispose()


def test_workers_killed_mid_call_lose_and_double_nothing(tmp_path):
    url, drop = fresh_database_url(tmp_path)
    log_path = tmp_path / "workers.log"
    try:
        migrate(url)
        asyncio.run(seed(url))
        rng = random.Random(7)
        with open(log_path, "w") as log_file:
            workers = [start_worker(url, log_file) for _ in range(WORKERS)]
            kills = 0
            try:
                deadline = time.monotonic() + KILL_FOR_S
                while time.monotonic() < deadline:
                    time.sleep(rng.uniform(1.5, 3.0))
                    doubled, orphaned, _, _ = asyncio.run(snapshot(url))
                    assert (doubled, orphaned) == (0, 0)
                    victim = asyncio.run(busy_worker(url, workers))
                    if victim is None:
                        victim = rng.randrange(WORKERS)
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    kills += 1
                    workers[victim] = start_worker(url, log_file)

                settle_by = time.monotonic() + SETTLE_WITHIN_S
                while True:
                    doubled, orphaned, open_calls, unsettled = asyncio.run(
                        snapshot(url)
                    )
                    assert (doubled, orphaned) == (0, 0)
                    if open_calls == 0 and unsettled == 0:
                        break
                    assert time.monotonic() < settle_by, (open_calls, unsettled)
                    time.sleep(0.5)
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    try:
                        worker.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait()

        assert kills >= 5
        asyncio.run(check_records(url))
    finally:
        drop()


async def busy_worker(url: str, workers: list[subprocess.Popen]) -> int | None:
    """The index of a worker holding a live call (worker ids carry the pid)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            holders = (
                await connection.scalars(
                    select(CallLog.worker_id).where(CallLog.completed_at.is_(None))
                )
            ).all()
    finally:
        await engine.dispose()
    for index, worker in enumerate(workers):
        if any(f"-{worker.pid}-" in (holder or "") for holder in holders):
            return index
    return None


async def check_records(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(Target.id, Target.status, Target.attempt)
                )
            ).all()
            counts = dict(
                (
                    await connection.execute(
                        select(CallLog.target_id, func.count()).group_by(
                            CallLog.target_id
                        )
                    )
                ).all()
            )
            interrupted = await connection.scalar(
                select(func.count()).where(CallLog.disposition == "interrupted")
            )
            open_calls = await connection.scalar(
                select(func.count()).where(CallLog.completed_at.is_(None))
            )
    finally:
        await engine.dispose()
    assert open_calls == 0
    assert interrupted > 0  # the kills did land mid-call
    for target_id, status, attempt in rows:
        assert status in {s.value for s in FINAL_STATUSES} | {"Scheduled"}
        # Every attempt the target counts has its call log, and no more.
        assert counts.get(target_id, 0) == attempt, (target_id, status)
