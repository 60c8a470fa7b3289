"""SQL for call logs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import CallLog, Target


async def get(session: AsyncSession, org_id: str, call_log_id: int) -> CallLog | None:
    return await session.scalar(
        select(CallLog).where(
            CallLog.id == call_log_id, CallLog.organization_id == org_id
        )
    )


async def list_page(
    session: AsyncSession,
    org_id: str,
    *,
    campaign_id: str | None,
    from_date: datetime | None,
    to_date: datetime | None,
    page: int,
    limit: int,
) -> tuple[list[CallLog], int]:
    conditions = [CallLog.organization_id == org_id]
    if campaign_id is not None:
        conditions.append(CallLog.campaign_id == campaign_id)
    if from_date is not None:
        conditions.append(CallLog.created_at >= from_date)
    if to_date is not None:
        conditions.append(CallLog.created_at <= to_date)
    total = await session.scalar(select(func.count(CallLog.id)).where(*conditions))
    rows = await session.scalars(
        select(CallLog)
        .where(*conditions)
        .order_by(CallLog.created_at.desc(), CallLog.id.desc())
        .offset(page * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def _latest_first(query):  # type: ignore[no-untyped-def]
    return query.order_by(CallLog.ended_at.is_not(None), CallLog.id.desc()).limit(1)


async def find_by_phone(
    session: AsyncSession, org_id: str, phone: str
) -> CallLog | None:
    """The live call to ``phone`` if any, else its latest call."""
    return await session.scalar(
        _latest_first(
            select(CallLog).where(
                CallLog.organization_id == org_id, CallLog.to_number == phone
            )
        )
    )


async def find_by_variable(
    session: AsyncSession, org_id: str, key: str, value: str
) -> CallLog | None:
    """A call whose target has ``input_data[key] == value`` (live first)."""
    target_ids = (
        select(Target.id)
        .where(
            Target.organization_id == org_id,
            Target.input_data[key].as_string() == value,
        )
        .limit(1000)
    )
    return await session.scalar(
        _latest_first(
            select(CallLog).where(
                CallLog.organization_id == org_id, CallLog.target_id.in_(target_ids)
            )
        )
    )
