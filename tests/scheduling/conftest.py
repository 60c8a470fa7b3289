"""Fixtures for the execution engine: an engine on the shared test database, an
organization per test, and helpers to build campaigns and drive a worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

import callfleet.telephony.fake  # noqa: F401  (registers the "fake" provider)
from callfleet.campaigns import service as campaigns
from callfleet.campaigns.settings import CampaignSettings, WeekSchedule
from callfleet.clock import FakeClock
from callfleet.config import Config
from callfleet.db.engine import create_engine, create_sessionmaker, transaction
from callfleet.db.models import CallLog, Campaign, Target, WebhookEvent
from callfleet.organizations import service as organizations
from callfleet.scheduling.worker import Worker
from callfleet.targets import service as targets
from callfleet.telephony.fake import FakeOutcome, FakeProvider

# A Monday, 14:00 UTC (09:00 in New York).
MONDAY = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def campaign_settings(**overrides: Any) -> CampaignSettings:
    values: dict[str, Any] = {
        "name": "engine test",
        "calling_hours": WeekSchedule.always("UTC").model_dump(mode="json"),
        "concurrency": {"max_concurrent_calls": 50, "calls_per_second": 1000},
        "telephony": {"provider": "fake"},
        "qa": {
            "criteria": [{"name": "greeting", "check": "greeting"}],
            "review_threshold": 0,
        },
    }
    values.update(overrides)
    return CampaignSettings.model_validate(values)


class Engine:
    """One test's world: its organization, clock, fake provider and worker."""

    def __init__(self, database_url: str, clock: FakeClock) -> None:
        self.engine = create_engine(database_url)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.clock = clock
        self.provider = FakeProvider(clock=clock)
        self.org_id = ""
        self.campaign_ids: list[str] = []
        self.workers: list[Worker] = []
        self.config = Config(
            database_url=database_url, lease_seconds=30, heartbeat_seconds=10
        )

    async def start(self) -> None:
        async with transaction(self.sessionmaker) as session:
            org = await organizations.get_or_create_organization(
                session, f"engine-{uuid.uuid4().hex[:12]}"
            )
            self.org_id = org.id

    async def campaign(self, **overrides: Any) -> str:
        async with transaction(self.sessionmaker) as session:
            campaign, _ = await campaigns.create(
                session, self.org_id, campaign_settings(**overrides), self.clock.now()
            )
        self.campaign_ids.append(campaign.id)
        return campaign.id

    async def add(
        self, campaign_id: str, items: list[Any], *, launch: bool = True
    ) -> list[str]:
        async with transaction(self.sessionmaker) as session:
            response = await targets.add_targets(
                session,
                self.org_id,
                campaign_id,
                items,
                launch=launch,
                allow_duplicates=True,
                default_region="US",
                max_targets=100_000,
                now=self.clock.now(),
            )
        return response.target_ids

    def worker(self, **kwargs: Any) -> Worker:
        kwargs.setdefault("provider_factory", lambda settings: self.provider)
        kwargs.setdefault("campaign_ids", self.campaign_ids)
        return Worker(self.sessionmaker, config=self.config, clock=self.clock, **kwargs)

    async def target(self, target_id: str) -> Target:
        async with self.sessionmaker() as session:
            found = await session.get(Target, target_id)
            assert found is not None
            return found

    async def campaign_row(self, campaign_id: str) -> Campaign:
        async with self.sessionmaker() as session:
            found = await session.get(Campaign, campaign_id)
            assert found is not None
            return found

    async def call_logs(self, target_id: str) -> list[CallLog]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(CallLog)
                .where(CallLog.target_id == target_id)
                .order_by(CallLog.id)
            )
            return list(rows)

    async def events(self, campaign_id: str, event_type: str) -> list[WebhookEvent]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(WebhookEvent)
                .where(
                    WebhookEvent.campaign_id == campaign_id,
                    WebhookEvent.event_type == event_type,
                )
                .order_by(WebhookEvent.id)
            )
            return list(rows)

    async def step(self, worker: Worker) -> int:
        """One dispatcher pass, then wait for every call it started."""
        stats = await worker.step()
        await worker.wait_idle()
        return stats.claimed

    async def run_until(
        self, worker: Worker, until: datetime, every_s: float = 60.0
    ) -> None:
        """Walk the clock to ``until`` in steps, dispatching at each."""
        while self.clock.now() < until:
            await self.step(worker)
            self.clock.advance(every_s)
        await self.step(worker)

    async def next_due(self) -> datetime | None:
        async with self.sessionmaker() as session:
            return await session.scalar(
                select(func.min(Target.next_attempt_at)).where(
                    Target.campaign_id.in_(self.campaign_ids),
                    Target.status == "Scheduled",
                )
            )

    async def walk(self, worker: Worker, until: datetime) -> int:
        """Jump the clock from one due time to the next until ``until``,
        dispatching at each; returns the number of passes."""
        passes = 0
        while True:
            await self.step(worker)
            passes += 1
            due = await self.next_due()
            if due is None or due > until:
                return passes
            self.clock.set(max(due, self.clock.now()))


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[Engine]:
    env = Engine(database_url, FakeClock(MONDAY))
    await env.start()
    yield env
    for worker in env.workers:
        await worker.wait_idle()
        await worker.runner.recorder.aclose()
    await env.engine.dispose()


__all__ = ["MONDAY", "Engine", "FakeOutcome", "campaign_settings"]
