"""Claiming: which due targets are dialled now, and by which caller id.

A claim pass is one transaction; in it, each campaign's row is locked (others skip
it), the open call logs and the recent dials give the free concurrency and rate
budget, the due targets are locked oldest first, and each target is either
claimed (a call log with a lease), moved to its next calling window, or ended
(suppressed, past its deadline, cancelled).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.campaigns.settings import CampaignSettings
from callfleet.db.engine import transaction
from callfleet.db.models import CallLog, Target
from callfleet.logging import mask_phone
from callfleet.notifications import outbox
from callfleet.scheduling import repository
from callfleet.scheduling.attempts import SettingsCache, end_without_call
from callfleet.scheduling.lifecycle import (
    BLACKLISTED_PHONE,
    SLA_EXPIRED,
    next_allowed,
    target_hours,
)
from callfleet.scheduling.rate_limit import RateLimiter
from callfleet.targets.status import TargetStatus

log = structlog.get_logger()

# Rows looked at per round beyond the free slots, so that targets moved to a later
# window do not leave slots empty until the next tick.
_EXTRA_ROWS = 16
_MAX_ROUNDS = 4
# Campaigns locked together in a claim pass: few enough that other workers find
# unlocked ones meanwhile, enough to save most per-campaign round trips.
_CAMPAIGNS_PER_LOCK = 8


@dataclass(frozen=True, slots=True)
class Claim:
    """One attempt this worker now owns."""

    call_log_id: int
    target_id: str
    campaign_id: str
    organization_id: str
    attempt: int
    to_number: str
    from_number: str
    input_data: dict[str, Any]
    settings: CampaignSettings
    claimed_at: datetime


@dataclass(slots=True)
class ClaimStats:
    claimed: int = 0
    rescheduled: int = 0
    ended: int = 0
    ended_campaigns: set[str] = field(default_factory=set)


def rate_budget(calls_per_second: float, recent: int) -> int:
    """Calls still allowed in the current window of ``rate_window(cps)``."""
    return max(
        0, max(1, math.floor(calls_per_second * rate_window(calls_per_second))) - recent
    )


def rate_window(calls_per_second: float) -> float:
    """Seconds over which recent dials are counted: one second, or long enough to
    hold one call when the rate is below one per second."""
    return max(1.0, 1.0 / calls_per_second)


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        worker_id: str,
        lease_seconds: float,
        settings_cache: SettingsCache | None = None,
        provider_calls_per_second: Mapping[str, float] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.settings_cache = settings_cache or SettingsCache()
        # TODO: the per-provider rate is kept per worker process, so N workers may
        # dial N times that rate; campaign and caller-id rates are counted in the
        # database and hold across workers.
        self._provider_limits = dict(provider_calls_per_second or {})
        self._provider_rates = RateLimiter(1.0)
        for name, rate in self._provider_limits.items():
            self._provider_rates.configure(name, rate, burst=max(1.0, rate))

    async def claim(
        self, now: datetime, capacity: int, *, campaign_ids: list[str] | None = None
    ) -> tuple[list[Claim], ClaimStats]:
        """Claim up to ``capacity`` attempts due at ``now``, across campaigns."""
        stats = ClaimStats()
        claims: list[Claim] = []
        if capacity <= 0:
            return claims, stats
        # One transaction for the whole pass: one commit however many campaigns
        # have a target or two due.
        async with transaction(self.sessionmaker) as session:
            due = await repository.due_campaign_ids(session, now)
            if campaign_ids is not None:
                allowed = set(campaign_ids)
                due = [c for c in due if c in allowed]
            # Fair among campaigns across passes and workers.
            random.shuffle(due)
            for start in range(0, len(due), _CAMPAIGNS_PER_LOCK):
                if len(claims) >= capacity:
                    break
                await self._claim_campaigns(
                    session,
                    due[start : start + _CAMPAIGNS_PER_LOCK],
                    now,
                    capacity,
                    claims,
                    stats,
                )
        for claim in claims:
            log.info(
                "attempt.claimed",
                campaign_id=claim.campaign_id,
                target_id=claim.target_id,
                call_log_id=claim.call_log_id,
                attempt=claim.attempt,
                to=mask_phone(claim.to_number),
            )
        return claims, stats

    async def _claim_campaigns(
        self,
        session: AsyncSession,
        campaign_ids: list[str],
        now: datetime,
        capacity: int,
        claims: list[Claim],
        stats: ClaimStats,
    ) -> None:
        """Claims of a few campaigns, added to ``claims`` up to ``capacity``.
        Their rows are locked and their loads counted together: three round
        trips for the group instead of three per campaign."""
        since = {c: now - timedelta(seconds=self._window(c)) for c in campaign_ids}
        locked = await repository.lock_active_campaigns(session, campaign_ids)
        loads = await repository.campaign_loads(session, {c: since[c] for c in locked})
        for campaign_id in campaign_ids:
            left = capacity - len(claims)
            if left <= 0:
                break
            campaign = locked.get(campaign_id)
            if campaign is None:
                continue
            claims.extend(
                await self._claim_campaign(
                    session,
                    campaign,
                    loads.get(campaign_id, (0, 0)),
                    since[campaign_id],
                    now,
                    left,
                    stats,
                )
            )

    def _window(self, campaign_id: str) -> float:
        """The rate window of the campaign's last known settings; checked again
        once its row is locked."""
        settings = self.settings_cache.latest(campaign_id)
        if settings is None:
            return 1.0
        return rate_window(settings.concurrency.calls_per_second)

    async def _claim_campaign(
        self,
        session: AsyncSession,
        campaign: Any,
        load: tuple[int, int],
        since: datetime,
        now: datetime,
        capacity: int,
        stats: ClaimStats,
    ) -> list[Claim]:
        """Claims of one campaign, whose row (``id``, ``organization_id``,
        ``updated_at``) is locked; ``load`` is its open attempts and its attempts
        started after ``since``."""
        claims: list[Claim] = []
        started: list[tuple[CallLog, Target]] = []
        ended: list[Target] = []
        campaign_id = campaign.id
        settings = await self.settings_cache.load(
            session, campaign_id, campaign.updated_at
        )
        if settings is None:
            return claims
        concurrency = settings.concurrency
        window = rate_window(concurrency.calls_per_second)
        if now - timedelta(seconds=window) != since:
            # The settings changed since the load was counted.
            load = await repository.campaign_load(
                session, campaign_id, now - timedelta(seconds=window)
            )
        open_calls, recent = load
        slots = min(
            capacity,
            concurrency.max_concurrent_calls - open_calls,
            rate_budget(concurrency.calls_per_second, recent),
        )
        if slots <= 0:
            return claims
        callers = await self._caller_budget(session, campaign, settings, now)

        for _ in range(_MAX_ROUNDS):
            if len(started) >= slots or not any(callers.values()):
                break
            wanted = slots - len(started)
            checked = await repository.due_targets_checked(
                session, campaign_id, now, wanted + _EXTRA_ROWS
            )
            if not checked:
                break
            targets = [target for target, _ in checked]
            suppressed = {target.phone_number for target, flag in checked if flag}
            moved = 0
            for target in targets:
                if len(started) >= slots:
                    break
                verdict = self._check(target, settings, suppressed, now)
                if verdict == "ended":
                    ended.append(target)
                    continue
                if verdict == "moved":
                    moved += 1
                    continue
                caller = self._pick_caller(callers)
                if caller is None:
                    break
                if not self._provider_allows(settings, now):
                    break
                started.append(
                    self._start(session, campaign, settings, target, caller, now)
                )
            stats.rescheduled += moved
            if len(targets) < wanted + _EXTRA_ROWS:
                break

        await session.flush()
        for target in ended:
            await outbox.emit_target_finished(
                session, target=target, call_log=None, next_attempt_at=None, now=now
            )
        # Ids exist only after the flush.
        claims = [
            Claim(
                call_log_id=log_row.id,
                target_id=target.id,
                campaign_id=campaign.id,
                organization_id=campaign.organization_id,
                attempt=log_row.attempt,
                to_number=target.phone_number,
                from_number=log_row.from_number,
                input_data=dict(target.input_data or {}),
                settings=settings,
                claimed_at=now,
            )
            for log_row, target in started
        ]
        stats.claimed += len(claims)
        stats.ended += len(ended)
        if ended:
            stats.ended_campaigns.add(campaign_id)
        return claims

    async def _caller_budget(
        self,
        session: AsyncSession,
        campaign: Any,
        settings: CampaignSettings,
        now: datetime,
    ) -> dict[str, int]:
        """Calls each caller id may still place now (its own rate, if set)."""
        telephony = settings.telephony
        rate = telephony.calls_per_second_per_caller_id
        if rate is None:
            return {number: 1 << 30 for number in telephony.caller_ids}
        recent = await repository.dials_since(
            session, campaign.id, now - timedelta(seconds=rate_window(rate))
        )
        return {
            number: rate_budget(rate, recent.get(number, 0))
            for number in telephony.caller_ids
        }

    @staticmethod
    def _pick_caller(callers: dict[str, int]) -> str | None:
        # The caller id with the most room left spreads calls over all of them.
        number = max(callers, key=lambda n: callers[n], default=None)
        if number is None or callers[number] <= 0:
            return None
        callers[number] -= 1
        return number

    def _provider_allows(self, settings: CampaignSettings, now: datetime) -> bool:
        name = settings.telephony.provider
        if name not in self._provider_limits:
            return True
        return self._provider_rates.try_acquire(name, now)

    def _check(
        self,
        target: Target,
        settings: CampaignSettings,
        suppressed: set[str],
        now: datetime,
    ) -> str:
        """``call``, ``moved`` (to its next calling window) or ``ended``."""
        if target.cancel_requested:
            end_without_call(target, category=None, outcome="cancelled", now=now)
            return "ended"
        if target.phone_number in suppressed:
            end_without_call(
                target, category=BLACKLISTED_PHONE, outcome="blacklisted_phone", now=now
            )
            log.info(
                "attempt.suppressed",
                campaign_id=target.campaign_id,
                target_id=target.id,
            )
            return "ended"
        try:
            hours = target_hours(
                settings,
                target.phone_number,
                target.timezones,
                target.input_data,
                target.operating_hours,
            )
        except ValueError:
            log.warning("attempt.bad_calling_hours", target_id=target.id)
            end_without_call(
                target,
                category="NO_OPERATING_HOURS",
                outcome="no_operating_hours",
                now=now,
            )
            return "ended"
        deadline = target.deadline_at
        if hours.allows(now) and (deadline is None or now < deadline):
            return "call"
        when, failure = next_allowed(hours, now, deadline)
        if when is None:
            failure = failure or SLA_EXPIRED
            end_without_call(target, category=failure, outcome=failure.lower(), now=now)
            log.info(
                "attempt.no_window",
                campaign_id=target.campaign_id,
                target_id=target.id,
                category=failure,
            )
            return "ended"
        target.next_attempt_at = when
        target.updated_at = now
        return "moved"

    def _start(
        self,
        session: AsyncSession,
        campaign: Any,
        settings: CampaignSettings,
        target: Target,
        caller: str,
        now: datetime,
    ) -> tuple[CallLog, Target]:
        target.status = TargetStatus.IN_PROGRESS.value
        target.attempt = (target.attempt or 0) + 1
        target.last_call_at = now
        target.next_attempt_at = None
        target.updated_at = now
        call_log = CallLog(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            target_id=target.id,
            attempt=target.attempt,
            to_number=target.phone_number,
            from_number=caller,
            provider=settings.telephony.provider,
            state="dialing",
            worker_id=self.worker_id,
            lease_expires_at=now + timedelta(seconds=self.lease_seconds),
            heartbeat_at=now,
            created_at=now,
            transcripts=[],
            agent_data={},
            provider_data={},
            recording_urls=[],
            live_data={"state": "dialing", "attempt": target.attempt},
        )
        session.add(call_log)
        return call_log, target
