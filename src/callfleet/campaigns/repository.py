"""SQL for campaigns."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import Campaign, Target


async def get(session: AsyncSession, org_id: str, campaign_id: str) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.id == campaign_id, Campaign.organization_id == org_id
        )
    )


async def get_for_update(
    session: AsyncSession, org_id: str, campaign_id: str
) -> Campaign | None:
    return await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id, Campaign.organization_id == org_id)
        .with_for_update()
    )


async def add(session: AsyncSession, campaign: Campaign) -> None:
    session.add(campaign)
    await session.flush()


async def list_page(
    session: AsyncSession,
    org_id: str,
    *,
    statuses: list[str] | None,
    page: int,
    limit: int,
) -> tuple[list[Campaign], int]:
    query = select(Campaign).where(Campaign.organization_id == org_id)
    if statuses:
        query = query.where(Campaign.status.in_(statuses))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Campaign.created_at.desc(), Campaign.id)
        .offset(page * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def target_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(Target.status, func.count())
        .where(Target.campaign_id == campaign_id)
        .group_by(Target.status)
    )
    return {status: count for status, count in rows.all()}
