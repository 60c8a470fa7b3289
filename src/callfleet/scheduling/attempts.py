"""Recording the end of an attempt: the call log, the target's next step, the
webhook event, a do-not-call entry and the campaign's completion, each written in
the transaction of the change that causes it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.analysis.pipeline import Analysis
from callfleet.campaigns.schemas import CampaignStatus
from callfleet.campaigns.settings import CampaignSettings, Disposition
from callfleet.conversation import ConversationResult
from callfleet.db.engine import transaction
from callfleet.db.models import CallLog, Campaign, Target
from callfleet.notifications import outbox
from callfleet.scheduling import repository
from callfleet.scheduling.lifecycle import (
    NextStep,
    TargetCounters,
    after_attempt,
    target_hours,
)
from callfleet.suppressions.service import suppress_from_call
from callfleet.targets.status import TargetStatus

log = structlog.get_logger()

_CLOSED = frozenset({CampaignStatus.CANCELLED.value, CampaignStatus.ARCHIVED.value})


class SettingsCache:
    """Parsed campaign settings, re-read when the campaign was updated."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[datetime, CampaignSettings]] = {}

    def get(self, campaign: Campaign) -> CampaignSettings:
        entry = self._entries.get(campaign.id)
        if entry is not None and entry[0] == campaign.updated_at:
            return entry[1]
        settings = CampaignSettings.model_validate(campaign.settings)
        self._entries[campaign.id] = (campaign.updated_at, settings)
        return settings


@dataclass(slots=True)
class AttemptReport:
    """What the runner learnt about one attempt."""

    disposition: Disposition
    result: ConversationResult | None = None
    analysis: Analysis | None = None
    ended_reason: str | None = None
    provider_code: int | None = None
    provider_reason: str | None = None
    provider_data: dict[str, Any] | None = None


def jsonable(value: Any) -> Any:
    """``value`` as JSON would read it back: dates and decimals become text."""
    return json.loads(json.dumps(value, default=str))


def counters_of(target: Target) -> TargetCounters:
    return TargetCounters(
        attempt=target.attempt,
        max_attempts=target.max_attempts,
        free_retries=target.free_retries,
        disposition_streak=target.disposition_streak,
        last_disposition=target.last_disposition,
        deadline_at=target.deadline_at,
    )


def end_without_call(
    target: Target, *, category: str | None, outcome: str, now: datetime
) -> None:
    """A target that will not be called any more, decided before dialling."""
    target.status = TargetStatus.FAILED.value
    target.category = category
    target.subcategory = None
    target.outcome = outcome
    target.next_attempt_at = None
    target.finished_at = now
    target.updated_at = now


def _complete_call_log(call_log: CallLog, report: AttemptReport, now: datetime) -> None:
    result, analysis = report.result, report.analysis
    call_log.state = "completed"
    call_log.disposition = report.disposition.value
    call_log.completed_at = now
    call_log.ended_at = call_log.ended_at or now
    call_log.lease_expires_at = None
    if result is not None:
        call_log.provider_code = result.provider_code
        call_log.provider_reason = (result.provider_reason or "")[:200] or None
        call_log.call_ended_reason = result.ended_reason or None
        call_log.duration_s = round(result.duration_s, 3)
        call_log.transcripts = [turn.as_prosper() for turn in result.turns]
        call_log.agent_data = jsonable(
            {
                "answered_by": result.answered_by,
                "verified": result.verified,
                "talk_s": round(result.talk_s, 3),
                "hold_s": result.hold_s,
                "ivr_digits": result.ivr_digits,
                "voicemail_left": result.voicemail_left,
                "dnc_requested": result.dnc_requested,
                "error": result.error,
                "agent_values": result.metadata.get("agent_values"),
            }
        )
    if report.provider_code is not None:
        call_log.provider_code = report.provider_code
    if report.provider_reason is not None:
        call_log.provider_reason = report.provider_reason[:200]
    if report.ended_reason is not None:
        call_log.call_ended_reason = report.ended_reason
    if report.provider_data is not None:
        call_log.provider_data = jsonable(report.provider_data)
    if analysis is not None:
        call_log.post_call_data = jsonable(analysis.post_call_data)
        call_log.qa = jsonable(analysis.qa)
        call_log.summary = analysis.summary
        call_log.call_categorization = {
            "category": analysis.category,
            "subcategory": analysis.subcategory,
            "resolution": analysis.resolution,
            "outcome": analysis.outcome,
            "summary": analysis.summary,
        }
    live = dict(call_log.live_data or {})
    live.update(state="completed", disposition=report.disposition.value)
    call_log.live_data = live


async def finish_attempt(
    session: AsyncSession,
    *,
    call_log_id: int,
    report: AttemptReport,
    settings_cache: SettingsCache,
    now: datetime,
) -> NextStep | None:
    """Record an attempt's end and decide the target's next step, in the caller's
    transaction. Returns None when the attempt was already recorded (by the
    sweeper, after this worker lost its lease)."""
    locked = await repository.lock_attempt(session, call_log_id)
    if locked is None or locked[0].completed_at is not None:
        return None
    call_log, target, campaign = locked
    _complete_call_log(call_log, report, now)
    if target is None or campaign is None:
        return None

    settings = settings_cache.get(campaign)
    analysis = report.analysis
    if analysis is not None:
        target.output_data = {
            **(target.output_data or {}),
            **(call_log.post_call_data or {}),
        }
        target.category = analysis.category
        target.subcategory = analysis.subcategory
        target.resolution = analysis.resolution
        target.outcome = analysis.outcome
        target.categorization = call_log.call_categorization
    else:
        target.outcome = report.disposition.value
    duration = call_log.duration_s or 0.0
    target.execution_seconds = (target.execution_seconds or 0.0) + duration

    hours = target_hours(
        settings,
        target.phone_number,
        target.timezones,
        target.input_data,
        target.operating_hours,
    )
    may_retry = not target.cancel_requested and campaign.status not in _CLOSED
    step = after_attempt(
        settings,
        counters_of(target),
        report.disposition,
        hours=hours,
        now=now,
        review_required=bool(analysis and analysis.qa.get("review_required")),
        has_data=bool(target.output_data),
        may_retry=may_retry,
    )
    target.status = step.status.value
    target.attempt = step.attempt
    target.free_retries = step.free_retries
    target.disposition_streak = step.disposition_streak
    target.last_disposition = report.disposition.value
    target.next_attempt_at = step.next_attempt_at
    target.updated_at = now
    if step.category is not None:
        target.category = step.category
        target.subcategory = None
    if step.reason == "cancelled":
        target.outcome = "cancelled"
    if step.final:
        target.finished_at = now

    if report.disposition is Disposition.DO_NOT_CALL:
        await suppress_from_call(
            session,
            target.organization_id,
            target.phone_number,
            call_log_id=call_log.id,
            now=now,
        )
    await session.flush()
    await outbox.emit_target_finished(
        session,
        target=target,
        call_log=call_log,
        next_attempt_at=step.next_attempt_at,
        now=now,
    )
    log.info(
        "attempt.recorded",
        campaign_id=target.campaign_id,
        target_id=target.id,
        call_log_id=call_log.id,
        disposition=report.disposition.value,
        status=step.status.value,
        reason=step.reason,
        next_attempt_at=step.next_attempt_at,
    )
    return step


async def complete_campaign_if_done(
    sessionmaker: async_sessionmaker[AsyncSession], campaign_id: str, now: datetime
) -> bool:
    """Mark the campaign completed and queue campaign_finished when every target
    is final. The campaign row is locked while checking, so only one worker can
    complete it; run this after the transaction that made a target final."""
    # A read without the lock first: each finisher checks after its own commit, so
    # the last one to commit sees every target final; only that one locks.
    async with sessionmaker() as session:
        if await repository.has_open_targets(session, campaign_id):
            return False
    async with transaction(sessionmaker) as session:
        campaign = await repository.lock_campaign(session, campaign_id)
        if campaign is None or campaign.status not in (
            CampaignStatus.ACTIVE.value,
            CampaignStatus.PAUSED.value,
        ):
            return False
        if await repository.has_open_targets(session, campaign_id):
            return False
        campaign.status = CampaignStatus.COMPLETED.value
        campaign.completed_at = now
        campaign.updated_at = now
        await session.flush()
        await outbox.emit_campaign_finished(session, campaign=campaign, now=now)
    log.info("campaign.completed", campaign_id=campaign_id)
    return True
