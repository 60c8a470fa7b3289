"""SQL of the do-not-call list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import Suppression, new_id


async def find(
    session: AsyncSession, organization_id: str, numbers: Sequence[str]
) -> dict[str, Suppression]:
    if not numbers:
        return {}
    rows = await session.scalars(
        select(Suppression).where(
            Suppression.organization_id == organization_id,
            Suppression.phone_number.in_(sorted(set(numbers))),
        )
    )
    return {row.phone_number: row for row in rows}


async def add(
    session: AsyncSession,
    organization_id: str,
    phone_number: str,
    *,
    reason: str,
    source: str,
    call_log_id: int | None,
    now: datetime,
) -> Suppression:
    suppression = Suppression(
        id=new_id(),
        organization_id=organization_id,
        phone_number=phone_number,
        reason=reason,
        source=source,
        call_log_id=call_log_id,
        created_at=now,
    )
    session.add(suppression)
    await session.flush()
    return suppression


async def page(
    session: AsyncSession,
    organization_id: str,
    *,
    phone_number: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Suppression]]:
    where = [Suppression.organization_id == organization_id]
    if phone_number:
        where.append(Suppression.phone_number == phone_number)
    total = await session.scalar(
        select(func.count()).select_from(Suppression).where(*where)
    )
    rows = await session.scalars(
        select(Suppression)
        .where(*where)
        .order_by(Suppression.created_at.desc(), Suppression.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total or 0), list(rows)


async def remove(
    session: AsyncSession, organization_id: str, key: str, phone_number: str | None
) -> int:
    matches = [Suppression.id == key]
    if phone_number:
        matches.append(Suppression.phone_number == phone_number)
    result = await session.execute(
        delete(Suppression).where(
            Suppression.organization_id == organization_id, or_(*matches)
        )
    )
    return int(result.rowcount or 0)
