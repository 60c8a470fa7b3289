"""SQL for targets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import CallLog, Suppression, Target
from callfleet.targets.status import LIVE_STATUSES, NOT_STARTED_STATUSES, TargetStatus

CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def get(session: AsyncSession, org_id: str, target_id: str) -> Target | None:
    return await session.scalar(
        select(Target).where(Target.id == target_id, Target.organization_id == org_id)
    )


async def get_for_update(
    session: AsyncSession, org_id: str, target_id: str
) -> Target | None:
    return await session.scalar(
        select(Target)
        .where(Target.id == target_id, Target.organization_id == org_id)
        .with_for_update()
    )


async def existing_by_id(
    session: AsyncSession, ids: Sequence[str]
) -> dict[str, tuple[str, str, str, str]]:
    """id -> (organization_id, campaign_id, content_hash, status) for ids that exist."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for chunk in _chunks(ids):
        rows = await session.execute(
            select(
                Target.id,
                Target.organization_id,
                Target.campaign_id,
                Target.content_hash,
                Target.status,
            ).where(Target.id.in_(chunk))
        )
        for row in rows:
            found[row[0]] = (row[1], row[2], row[3], row[4])
    return found


async def existing_external_ids(
    session: AsyncSession, campaign_id: str, external_ids: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(external_ids):
        rows = await session.scalars(
            select(Target.external_id).where(
                Target.campaign_id == campaign_id, Target.external_id.in_(chunk)
            )
        )
        found.update(value for value in rows if value is not None)
    return found


async def suppressed_numbers(
    session: AsyncSession, org_id: str, numbers: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(numbers):
        rows = await session.scalars(
            select(Suppression.phone_number).where(
                Suppression.organization_id == org_id,
                Suppression.phone_number.in_(chunk),
            )
        )
        found.update(rows)
    return found


async def insert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    # The table, not the mapped class: a Core executemany skips the ORM's
    # bulk-insert bookkeeping, which the rows (complete dicts) do not need.
    table = Target.__table__
    if rows and any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("target rows for one insert must have the same keys")
    for chunk in _chunks(rows, 2000):
        await session.execute(insert(table), list(chunk))


async def launch(
    session: AsyncSession,
    campaign_id: str,
    target_ids: Sequence[str],
    now: datetime,
    rank_base: int,
) -> list[str]:
    """Move Pending targets to Scheduled, due now, in the given order."""
    launched: list[str] = []
    pending = set()
    for chunk in _chunks(target_ids):
        rows = await session.scalars(
            select(Target.id).where(
                Target.campaign_id == campaign_id,
                Target.id.in_(chunk),
                Target.status == TargetStatus.PENDING,
            )
        )
        pending.update(rows)
    for rank, target_id in enumerate(t for t in target_ids if t in pending):
        launched.append(target_id)
        await session.execute(
            update(Target)
            .where(Target.id == target_id)
            .values(
                status=TargetStatus.SCHEDULED,
                next_attempt_at=now,
                launched_at=now,
                queue_rank=rank_base + rank,
                updated_at=now,
            )
        )
    return launched


async def pending_ids(
    session: AsyncSession, campaign_id: str, count: int, oldest_first: bool
) -> list[str]:
    query = select(Target.id).where(
        Target.campaign_id == campaign_id, Target.status == TargetStatus.PENDING
    )
    if oldest_first:
        query = query.order_by(Target.created_at, Target.queue_rank, Target.id)
    else:
        query = query.order_by(func.random())
    return list(await session.scalars(query.limit(count)))


async def statuses_of(
    session: AsyncSession, campaign_id: str, target_ids: Sequence[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(target_ids):
        rows = await session.execute(
            select(Target.id, Target.status).where(
                Target.campaign_id == campaign_id, Target.id.in_(chunk)
            )
        )
        found.update({row[0]: row[1] for row in rows})
    return found


async def delete_many(
    session: AsyncSession, campaign_id: str, target_ids: Sequence[str]
) -> None:
    for chunk in _chunks(target_ids):
        await session.execute(
            delete(Target).where(
                Target.campaign_id == campaign_id, Target.id.in_(chunk)
            )
        )


async def end_not_started(
    session: AsyncSession, campaign_id: str, *, outcome: str, now: datetime
) -> int:
    result = await session.execute(
        update(Target)
        .where(
            Target.campaign_id == campaign_id,
            Target.status.in_([s.value for s in NOT_STARTED_STATUSES]),
        )
        .values(
            status=TargetStatus.FAILED,
            outcome=outcome,
            next_attempt_at=None,
            finished_at=now,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)


def _filtered(
    query: Any,
    *,
    status: str | None,
    from_date: datetime | None,
    to_date: datetime | None,
    from_last_call_date: datetime | None,
    to_last_call_date: datetime | None,
) -> Any:
    if status is not None:
        query = query.where(Target.status == status)
    if from_date is not None:
        query = query.where(Target.created_at >= from_date)
    if to_date is not None:
        query = query.where(Target.created_at <= to_date)
    if from_last_call_date is not None:
        query = query.where(Target.last_call_at >= from_last_call_date)
    if to_last_call_date is not None:
        query = query.where(Target.last_call_at <= to_last_call_date)
    return query


async def list_page(
    session: AsyncSession,
    org_id: str,
    campaign_id: str | None,
    *,
    page: int,
    limit: int,
    **filters: Any,
) -> tuple[list[Target], int]:
    query = select(Target).where(Target.organization_id == org_id)
    if campaign_id is not None:
        query = query.where(Target.campaign_id == campaign_id)
    query = _filtered(query, **filters)
    total = await session.scalar(
        _filtered(
            select(func.count(Target.id)).where(
                Target.organization_id == org_id,
                *([Target.campaign_id == campaign_id] if campaign_id else []),
            ),
            **filters,
        )
    )
    rows = await session.scalars(
        query.order_by(Target.created_at, Target.queue_rank, Target.id)
        .offset(page * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def call_log_ids(
    session: AsyncSession, target_ids: Sequence[str]
) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {target_id: [] for target_id in target_ids}
    for chunk in _chunks(target_ids):
        rows = await session.execute(
            select(CallLog.target_id, CallLog.id)
            .where(CallLog.target_id.in_(chunk))
            .order_by(CallLog.id)
        )
        for target_id, log_id in rows:
            found[target_id].append(log_id)
    return found


def is_live(status: str) -> bool:
    return status in LIVE_STATUSES
