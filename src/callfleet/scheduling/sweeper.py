"""Recovery: attempts whose worker died (lease expired), attempts stuck past their
campaign's max duration, and campaigns whose last target became final while the
worker that finished it crashed before completing the campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.campaigns.settings import Disposition
from callfleet.db.engine import transaction
from callfleet.scheduling import repository
from callfleet.scheduling.attempts import (
    AttemptReport,
    SettingsCache,
    complete_campaign_if_done,
    finish_attempt,
)

log = structlog.get_logger()

_BATCH = 100
# The shortest max call duration a campaign may set (AgentSettings.max_duration_s).
_MIN_DURATION_S = 30


@dataclass(slots=True)
class SweepStats:
    interrupted: int = 0
    overdue: int = 0
    campaigns_completed: int = 0


class Sweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        settings_cache: SettingsCache,
        margin_s: float,
        campaign_ids: list[str] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings_cache = settings_cache
        self.margin_s = margin_s
        self.campaign_ids = campaign_ids

    async def sweep(self, now: datetime) -> SweepStats:
        stats = SweepStats()
        finished_campaigns: set[str] = set()

        async with transaction(self.sessionmaker) as session:
            for call_log in await repository.expired_leases(
                session, now, _BATCH, self.campaign_ids
            ):
                log.warning(
                    "attempt.lease_expired",
                    campaign_id=call_log.campaign_id,
                    target_id=call_log.target_id,
                    call_log_id=call_log.id,
                    worker_id=call_log.worker_id,
                )
                step = await finish_attempt(
                    session,
                    call_log_id=call_log.id,
                    report=AttemptReport(
                        Disposition.INTERRUPTED, ended_reason="worker-lost"
                    ),
                    settings_cache=self.settings_cache,
                    now=now,
                )
                stats.interrupted += 1
                if step is None or step.final:
                    finished_campaigns.add(call_log.campaign_id)

        # An attempt may hold a fresh lease yet never end (a hung call on a live
        # worker); nothing stays open past its campaign's max duration.
        oldest = now - timedelta(seconds=_MIN_DURATION_S + self.margin_s)
        async with transaction(self.sessionmaker) as session:
            for call_log in await repository.open_calls_started_before(
                session, oldest, _BATCH, self.campaign_ids
            ):
                campaign = await repository.get_campaign(session, call_log.campaign_id)
                limit = self.margin_s + (
                    self.settings_cache.get(campaign).agent.max_duration_s
                    if campaign is not None
                    else 0
                )
                if call_log.created_at + timedelta(seconds=limit) >= now:
                    continue
                log.warning(
                    "attempt.overdue",
                    campaign_id=call_log.campaign_id,
                    target_id=call_log.target_id,
                    call_log_id=call_log.id,
                    limit_s=limit,
                )
                step = await finish_attempt(
                    session,
                    call_log_id=call_log.id,
                    report=AttemptReport(
                        Disposition.FAILED, ended_reason="max-duration-reached"
                    ),
                    settings_cache=self.settings_cache,
                    now=now,
                )
                stats.overdue += 1
                if step is None or step.final:
                    finished_campaigns.add(call_log.campaign_id)

        async with self.sessionmaker() as session:
            finished_campaigns.update(
                await repository.completable_campaign_ids(session, self.campaign_ids)
            )
        for campaign_id in sorted(finished_campaigns):
            if await complete_campaign_if_done(self.sessionmaker, campaign_id, now):
                stats.campaigns_completed += 1
        return stats
