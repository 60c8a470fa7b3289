"""SQL for organizations and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import ApiKey, Organization


async def get_organization_by_name(
    session: AsyncSession, name: str
) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.name == name))


async def get_organization(session: AsyncSession, org_id: str) -> Organization | None:
    return await session.get(Organization, org_id)


async def add(session: AsyncSession, obj: Organization | ApiKey) -> None:
    session.add(obj)
    await session.flush()


async def find_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


async def list_keys(session: AsyncSession, org_id: str) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey)
        .where(ApiKey.organization_id == org_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(result)


async def count_keys(session: AsyncSession, org_id: str) -> int:
    return len(await list_keys(session, org_id))


async def delete_key(session: AsyncSession, org_id: str, key_id: str) -> bool:
    result = await session.execute(
        delete(ApiKey).where(ApiKey.organization_id == org_id, ApiKey.id == key_id)
    )
    return bool(result.rowcount)


async def touch_key(session: AsyncSession, key_id: str, when: datetime) -> None:
    await session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when)
    )
