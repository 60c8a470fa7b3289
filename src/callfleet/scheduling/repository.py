"""All SQL of the execution engine: claiming, leases, sweeping, completion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.campaigns.schemas import CampaignStatus
from callfleet.db.models import (
    CallLog,
    Campaign,
    Suppression,
    Target,
    WebhookEndpoint,
    WebhookEvent,
)
from callfleet.targets.status import FINAL_STATUSES, TargetStatus

# Every status a target can be in before it is final; listed (not negated) so that
# the lookups are index seeks on (campaign_id, status, ...).
OPEN_STATUSES = tuple(s.value for s in TargetStatus if s not in FINAL_STATUSES)


async def due_campaign_ids(session: AsyncSession, now: datetime) -> list[str]:
    """Active campaigns with at least one target due now."""
    due = exists().where(
        Target.campaign_id == Campaign.id,
        Target.status == TargetStatus.SCHEDULED.value,
        Target.next_attempt_at <= now,
    )
    rows = await session.scalars(
        select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE.value, due)
    )
    return list(rows)


async def lock_active_campaigns(
    session: AsyncSession, campaign_ids: Sequence[str]
) -> dict[str, Any]:
    """Active campaigns' ``id``, ``organization_id`` and ``updated_at``, locked for
    a claim pass; those not active or locked by another worker are left out."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Campaign.id, Campaign.organization_id, Campaign.updated_at)
        .where(
            Campaign.id.in_(sorted(campaign_ids)),
            Campaign.status == CampaignStatus.ACTIVE.value,
        )
        .order_by(Campaign.id)
        .with_for_update(skip_locked=True)
    )
    return {row.id: row for row in rows}


async def campaign_loads(
    session: AsyncSession, since: Mapping[str, datetime]
) -> dict[str, tuple[int, int]]:
    """``campaign_load`` for many campaigns, each with its own ``since``, in two
    round trips. Campaigns without any such attempt are left out."""
    if not since:
        return {}
    ids = sorted(since)
    loads = {campaign_id: [0, 0] for campaign_id in ids}
    rows = await session.execute(
        select(CallLog.campaign_id, func.count())
        .where(CallLog.campaign_id.in_(ids), CallLog.completed_at.is_(None))
        .group_by(CallLog.campaign_id)
    )
    for campaign_id, count in rows:
        loads[campaign_id][0] = int(count)
    by_since: dict[datetime, list[str]] = {}
    for campaign_id in ids:
        by_since.setdefault(since[campaign_id], []).append(campaign_id)
    rows = await session.execute(
        select(CallLog.campaign_id, func.count())
        .where(
            or_(
                *(
                    and_(CallLog.campaign_id.in_(group), CallLog.created_at > moment)
                    for moment, group in by_since.items()
                )
            )
        )
        .group_by(CallLog.campaign_id)
    )
    for campaign_id, count in rows:
        loads[campaign_id][1] = int(count)
    return {c: (o, r) for c, (o, r) in loads.items() if o or r}


async def campaign_load(
    session: AsyncSession, campaign_id: str, since: datetime
) -> tuple[int, int]:
    """The campaign's open attempts and the attempts started after ``since``, in
    one round trip."""
    open_calls = (
        select(func.count())
        .select_from(CallLog)
        .where(CallLog.campaign_id == campaign_id, CallLog.completed_at.is_(None))
        .scalar_subquery()
    )
    recent = (
        select(func.count())
        .select_from(CallLog)
        .where(CallLog.campaign_id == campaign_id, CallLog.created_at > since)
        .scalar_subquery()
    )
    row = (await session.execute(select(open_calls, recent))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def open_call_count(session: AsyncSession, campaign_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(CallLog)
        .where(CallLog.campaign_id == campaign_id, CallLog.completed_at.is_(None))
    )
    return int(count or 0)


async def dials_since(
    session: AsyncSession, campaign_id: str, since: datetime
) -> dict[str, int]:
    """Attempts started after ``since``, by caller id."""
    rows = await session.execute(
        select(CallLog.from_number, func.count())
        .where(CallLog.campaign_id == campaign_id, CallLog.created_at > since)
        .group_by(CallLog.from_number)
    )
    return {number: int(count) for number, count in rows}


def claim_query(campaign_id: str, now: datetime, limit: int) -> Select[tuple[Target]]:
    """Due targets of one campaign, oldest first, skipping rows that another
    worker has locked. Served by ix_targets_campaign_status_due."""
    return (
        select(Target)
        .where(
            Target.campaign_id == campaign_id,
            Target.status == TargetStatus.SCHEDULED.value,
            Target.next_attempt_at <= now,
        )
        .order_by(Target.next_attempt_at, Target.queue_rank)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def due_targets_checked(
    session: AsyncSession, campaign_id: str, now: datetime, limit: int
) -> list[tuple[Target, bool]]:
    """Due targets (``claim_query``), each with whether its number is on its
    organization's do-not-call list, in one round trip."""
    suppressed = (
        exists()
        .where(
            Suppression.organization_id == Target.organization_id,
            Suppression.phone_number == Target.phone_number,
        )
        .label("suppressed")
    )
    query = claim_query(campaign_id, now, limit).add_columns(suppressed)
    query = query.with_for_update(skip_locked=True, of=Target)
    rows = await session.execute(query)
    return [(target, bool(flag)) for target, flag in rows]


async def get_campaign(session: AsyncSession, campaign_id: str) -> Campaign | None:
    return await session.get(Campaign, campaign_id)


_CALL_LOGS = CallLog.__table__
_TARGETS = Target.__table__
_TARGET_PREFIX = "t__"


@dataclass(slots=True)
class LockedAttempt:
    """An attempt's call log and target as plain column values, and its
    campaign's status and version (``updated_at``)."""

    call_log: dict[str, Any]
    target: dict[str, Any] | None
    campaign_status: str | None
    campaign_updated_at: datetime | None


async def lock_attempts(
    session: AsyncSession, call_log_ids: Sequence[int]
) -> list[LockedAttempt]:
    """Attempts' call logs and targets, both locked, in id order (the lock
    order); one round trip however many attempts. The target is None when it was
    deleted; ids not found are left out."""
    ids = sorted(set(call_log_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(
            *_CALL_LOGS.c,
            *(c.label(_TARGET_PREFIX + c.key) for c in _TARGETS.c),
            Campaign.status.label("campaign_status"),
            Campaign.updated_at.label("campaign_updated_at"),
        )
        .select_from(
            _CALL_LOGS.join(_TARGETS, _TARGETS.c.id == _CALL_LOGS.c.target_id).join(
                Campaign, Campaign.id == _CALL_LOGS.c.campaign_id
            )
        )
        .where(_CALL_LOGS.c.id.in_(ids))
        .order_by(_CALL_LOGS.c.id)
        .with_for_update(of=[_CALL_LOGS, _TARGETS])
    )
    call_log_keys = [c.key for c in _CALL_LOGS.c]
    target_keys = [(_TARGET_PREFIX + c.key, c.key) for c in _TARGETS.c]
    found: dict[int, LockedAttempt] = {}
    for row in rows.mappings():
        found[row["id"]] = LockedAttempt(
            call_log={key: row[key] for key in call_log_keys},
            target={key: row[label] for label, key in target_keys},
            campaign_status=row["campaign_status"],
            campaign_updated_at=row["campaign_updated_at"],
        )
    missing = [i for i in ids if i not in found]
    if missing:
        # Their targets were deleted (call logs keep a null target_id).
        orphans = await session.execute(
            select(_CALL_LOGS)
            .where(_CALL_LOGS.c.id.in_(missing))
            .order_by(_CALL_LOGS.c.id)
            .with_for_update()
        )
        for row in orphans.mappings():
            found[row["id"]] = LockedAttempt(dict(row), None, None, None)
    return [found[i] for i in ids if i in found]


async def update_rows_by_id(
    session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]]
) -> None:
    """One UPDATE per row, sent as a single executemany; every row sets the same
    columns and carries its primary key as ``id``."""
    if not rows:
        return
    await session.execute(
        update(table).where(table.c.id == bindparam("row_id")),
        [
            {"row_id": row["id"], **{k: v for k, v in row.items() if k != "id"}}
            for row in rows
        ],
    )


async def campaign_settings_row(
    session: AsyncSession, campaign_id: str
) -> tuple[datetime, dict[str, Any]] | None:
    row = (
        await session.execute(
            select(Campaign.updated_at, Campaign.settings).where(
                Campaign.id == campaign_id
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def subscribed_campaign_ids(
    session: AsyncSession, campaign_ids: Iterable[str], event_type: str
) -> set[str]:
    """Of these campaigns, those with a webhook endpoint for ``event_type``."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return set()
    rows = await session.execute(
        select(WebhookEndpoint.campaign_id, WebhookEndpoint.events).where(
            WebhookEndpoint.campaign_id.in_(ids)
        )
    )
    return {campaign_id for campaign_id, events in rows if event_type in (events or [])}


async def insert_webhook_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    if rows:
        await session.execute(insert(WebhookEvent.__table__), list(rows))


async def mark_answered(
    session: AsyncSession,
    call_log_id: int,
    *,
    at: datetime,
    provider_call_id: str | None,
    live_data: dict[str, object],
) -> None:
    await session.execute(
        update(CallLog)
        .where(CallLog.id == call_log_id, CallLog.completed_at.is_(None))
        .values(
            state="in_progress",
            answered_at=at,
            provider_call_id=provider_call_id,
            live_data=live_data,
        )
    )


async def mark_answered_many(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> None:
    """``mark_answered`` for many calls at once; each row holds ``id``,
    ``answered_at``, ``provider_call_id`` and ``live_data``."""
    await session.execute(
        update(CallLog).where(CallLog.completed_at.is_(None)),
        [{**row, "state": "in_progress"} for row in rows],
        execution_options={"synchronize_session": None},
    )


async def mark_post_processing(
    session: AsyncSession, call_log_id: int, target_id: str, *, at: datetime
) -> None:
    await session.execute(
        update(CallLog)
        .where(CallLog.id == call_log_id, CallLog.completed_at.is_(None))
        .values(state="post_processing", ended_at=at)
    )
    await session.execute(
        update(Target)
        .where(Target.id == target_id, Target.status == TargetStatus.IN_PROGRESS.value)
        .values(status=TargetStatus.POST_PROCESSING.value, updated_at=at)
    )


async def renew_leases(
    session: AsyncSession,
    worker_id: str,
    call_log_ids: Sequence[int],
    *,
    now: datetime,
    until: datetime,
) -> set[int]:
    """Extend the leases this worker still holds; returns the ids renewed. A row
    locked right now (its attempt is being recorded) is skipped, not waited for,
    so that the heartbeat never deadlocks with the recording."""
    if not call_log_ids:
        return set()
    held = (
        select(CallLog.id)
        .where(
            CallLog.id.in_(list(call_log_ids)),
            CallLog.worker_id == worker_id,
            CallLog.completed_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    )
    rows = await session.scalars(
        update(CallLog)
        .where(CallLog.id.in_(held.scalar_subquery()))
        .values(lease_expires_at=until, heartbeat_at=now)
        .returning(CallLog.id)
    )
    return set(rows)


async def lost_attempts(
    session: AsyncSession, worker_id: str, call_log_ids: Sequence[int]
) -> set[int]:
    """Of these attempts, those already recorded or taken over by another
    worker."""
    if not call_log_ids:
        return set()
    rows = await session.scalars(
        select(CallLog.id).where(
            CallLog.id.in_(list(call_log_ids)),
            (CallLog.completed_at.is_not(None)) | (CallLog.worker_id != worker_id),
        )
    )
    return set(rows)


def _in_campaigns(campaign_ids: Sequence[str] | None) -> list[Any]:
    return [] if campaign_ids is None else [CallLog.campaign_id.in_(campaign_ids)]


async def _open_calls(
    session: AsyncSession,
    condition: Any,
    order: Any,
    limit: int,
    campaign_ids: Sequence[str] | None,
) -> list[CallLog]:
    return list(
        await session.scalars(
            select(CallLog)
            .where(
                CallLog.completed_at.is_(None), condition, *_in_campaigns(campaign_ids)
            )
            .order_by(order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def expired_leases(
    session: AsyncSession,
    now: datetime,
    limit: int,
    campaign_ids: Sequence[str] | None = None,
) -> list[CallLog]:
    """Open attempts whose worker stopped renewing their lease."""
    return await _open_calls(
        session,
        CallLog.lease_expires_at < now,
        CallLog.lease_expires_at,
        limit,
        campaign_ids,
    )


async def open_calls_started_before(
    session: AsyncSession,
    before: datetime,
    limit: int,
    campaign_ids: Sequence[str] | None = None,
) -> list[CallLog]:
    """Open attempts older than ``before``, whatever their lease says."""
    return await _open_calls(
        session, CallLog.created_at < before, CallLog.created_at, limit, campaign_ids
    )


async def has_open_targets(session: AsyncSession, campaign_id: str) -> bool:
    found = await session.scalar(
        select(Target.id)
        .where(Target.campaign_id == campaign_id, Target.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    return found is not None


async def lock_campaign(session: AsyncSession, campaign_id: str) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(Campaign.id == campaign_id).with_for_update()
    )


async def completable_campaign_ids(
    session: AsyncSession, campaign_ids: Sequence[str] | None = None
) -> list[str]:
    """Active or paused campaigns that have targets, all of them final."""
    any_target = exists().where(Target.campaign_id == Campaign.id)
    open_target = exists().where(
        and_(Target.campaign_id == Campaign.id, Target.status.in_(OPEN_STATUSES))
    )
    rows = await session.scalars(
        select(Campaign.id).where(
            Campaign.status.in_(
                [CampaignStatus.ACTIVE.value, CampaignStatus.PAUSED.value]
            ),
            any_target,
            ~open_target,
            *([] if campaign_ids is None else [Campaign.id.in_(campaign_ids)]),
        )
    )
    return list(rows)
