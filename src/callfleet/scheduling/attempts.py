"""Recording the end of an attempt: the call log, the target's next step, the
webhook event, a do-not-call entry and the campaign's completion, each written in
the transaction of the change that causes it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
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
        settings = self.cached(campaign.id, campaign.updated_at)
        if settings is None:
            settings = self.put(campaign.id, campaign.updated_at, campaign.settings)
        return settings

    def latest(self, campaign_id: str) -> CampaignSettings | None:
        """The last settings read for the campaign, whatever their version."""
        entry = self._entries.get(campaign_id)
        return None if entry is None else entry[1]

    def cached(self, campaign_id: str, updated_at: datetime) -> CampaignSettings | None:
        entry = self._entries.get(campaign_id)
        if entry is not None and entry[0] == updated_at:
            return entry[1]
        return None

    def put(
        self, campaign_id: str, updated_at: datetime, raw: dict[str, Any]
    ) -> CampaignSettings:
        settings = CampaignSettings.model_validate(raw)
        self._entries[campaign_id] = (updated_at, settings)
        return settings

    async def load(
        self, session: AsyncSession, campaign_id: str, updated_at: datetime
    ) -> CampaignSettings | None:
        """The settings of this version of the campaign, read from the database
        only when not cached."""
        settings = self.cached(campaign_id, updated_at)
        if settings is not None:
            return settings
        row = await repository.campaign_settings_row(session, campaign_id)
        return None if row is None else self.put(campaign_id, row[0], row[1])


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


# Columns the recording of an attempt writes; every row of a batch sets all of
# them, so that one executemany statement covers the batch.
_CALL_LOG_WRITES = (
    "state",
    "disposition",
    "completed_at",
    "ended_at",
    "lease_expires_at",
    "provider_code",
    "provider_reason",
    "call_ended_reason",
    "duration_s",
    "transcripts",
    "agent_data",
    "provider_data",
    "post_call_data",
    "qa",
    "summary",
    "call_categorization",
    "live_data",
)
_TARGET_WRITES = (
    "output_data",
    "category",
    "subcategory",
    "resolution",
    "outcome",
    "categorization",
    "execution_seconds",
    "status",
    "attempt",
    "free_retries",
    "disposition_streak",
    "last_disposition",
    "next_attempt_at",
    "updated_at",
    "finished_at",
)


class _Row(SimpleNamespace):
    """A row's column values as attributes, as the ORM objects have them, so that
    the rules below read and write either."""


def _apply_to_target(
    target: Any,
    call_log: Any,
    report: AttemptReport,
    settings: CampaignSettings,
    campaign_status: str | None,
    now: datetime,
) -> NextStep:
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
    may_retry = not target.cancel_requested and campaign_status not in _CLOSED
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
    return step


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
    steps = await finish_attempts(
        session, [(call_log_id, report)], settings_cache=settings_cache, now=now
    )
    return steps[0]


async def finish_attempts(
    session: AsyncSession,
    attempts: Sequence[tuple[int, AttemptReport]],
    *,
    settings_cache: SettingsCache,
    now: datetime,
) -> list[NextStep | None]:
    """``finish_attempt`` for many attempts in one transaction, with a fixed
    number of statements: one locking read, one executemany per table, one insert
    of the webhook events. The steps are returned in the order given."""
    locked = {
        row.call_log["id"]: row
        for row in await repository.lock_attempts(session, [i for i, _ in attempts])
    }
    call_log_rows: list[dict[str, Any]] = []
    target_rows: list[dict[str, Any]] = []
    recorded: list[tuple[_Row, _Row, NextStep]] = []
    steps: list[NextStep | None] = []
    for call_log_id, report in attempts:
        row = locked.pop(call_log_id, None)
        if row is None or row.call_log["completed_at"] is not None:
            steps.append(None)
            continue
        call_log = _Row(**row.call_log)
        _complete_call_log(call_log, report, now)
        call_log_rows.append(
            {"id": call_log.id, **{k: getattr(call_log, k) for k in _CALL_LOG_WRITES}}
        )
        settings = None
        if row.target is not None and row.campaign_updated_at is not None:
            settings = await settings_cache.load(
                session, call_log.campaign_id, row.campaign_updated_at
            )
        if row.target is None or settings is None:
            steps.append(None)
            continue
        target = _Row(**row.target)
        step = _apply_to_target(
            target, call_log, report, settings, row.campaign_status, now
        )
        target_rows.append(
            {"id": target.id, **{k: getattr(target, k) for k in _TARGET_WRITES}}
        )
        recorded.append((call_log, target, step))
        steps.append(step)
        if report.disposition is Disposition.DO_NOT_CALL:
            await suppress_from_call(
                session,
                target.organization_id,
                target.phone_number,
                call_log_id=call_log.id,
                now=now,
            )

    await repository.update_rows_by_id(session, CallLog.__table__, call_log_rows)
    await repository.update_rows_by_id(session, Target.__table__, target_rows)
    await _emit_target_finished(session, recorded, now)
    for call_log, target, step in recorded:
        log.info(
            "attempt.recorded",
            campaign_id=target.campaign_id,
            target_id=target.id,
            call_log_id=call_log.id,
            disposition=call_log.disposition,
            status=step.status.value,
            reason=step.reason,
            next_attempt_at=step.next_attempt_at,
        )
    return steps


async def _emit_target_finished(
    session: AsyncSession, recorded: list[tuple[_Row, _Row, NextStep]], now: datetime
) -> None:
    """The ``campaign_target_finished`` event of each recorded attempt. Campaigns
    with webhook endpoints go through the outbox one event at a time (it numbers
    each target's deliveries); for the others, the events are inserted at once."""
    subscribed = await repository.subscribed_campaign_ids(
        session, {t.campaign_id for _, t, _ in recorded}, outbox.TARGET_FINISHED
    )
    events = []
    for call_log, target, step in recorded:
        if target.campaign_id in subscribed:
            await outbox.emit_target_finished(
                session,
                target=target,
                call_log=call_log,
                next_attempt_at=step.next_attempt_at,
                now=now,
            )
            continue
        event_id = outbox.new_event_id(now)
        events.append(
            {
                "id": event_id,
                "organization_id": target.organization_id,
                "campaign_id": target.campaign_id,
                "target_id": target.id,
                "call_log_id": call_log.id,
                "event_type": outbox.TARGET_FINISHED,
                "payload": outbox.target_finished_payload(
                    event_id=event_id,
                    target=target,
                    call_log=call_log,
                    next_attempt_at=step.next_attempt_at,
                    now=now,
                ),
                # No endpoint to fan out to, as the outbox marks such events.
                "state": "fanned_out",
                "created_at": now,
            }
        )
    await repository.insert_webhook_events(session, events)


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
