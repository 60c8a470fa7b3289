"""Organizations and their API keys. Keys are random, shown once, stored as
SHA-256 digests (they carry 256 bits of entropy, so a slow hash adds nothing)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import ApiKey, Organization
from callfleet.organizations import repository

KEY_PREFIX = "cf_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str


async def get_or_create_organization(session: AsyncSession, name: str) -> Organization:
    organization = await repository.get_organization_by_name(session, name)
    if organization is None:
        organization = Organization(name=name)
        await repository.add(session, organization)
    return organization


async def create_key(
    session: AsyncSession,
    organization: Organization,
    name: str = "",
    secret: str | None = None,
) -> NewKey:
    secret = secret or generate_key()
    if len(secret) < 16:
        raise ValueError("an API key must be at least 16 characters")
    api_key = ApiKey(
        organization_id=organization.id,
        name=name,
        prefix=secret[:10],
        key_hash=hash_key(secret),
    )
    await repository.add(session, api_key)
    return NewKey(api_key=api_key, secret=secret)


async def authenticate(
    session: AsyncSession, secret: str, now: datetime
) -> ApiKey | None:
    api_key = await repository.find_key_by_hash(session, hash_key(secret))
    if api_key is None:
        return None
    last = api_key.last_used_at
    if last is None or (now - last).total_seconds() > 60:
        await repository.touch_key(session, api_key.id, now)
    return api_key


async def bootstrap(
    session: AsyncSession, org_name: str, configured_key: str | None
) -> tuple[Organization, str | None]:
    """Make sure the default organization exists. Returns the key to print when a
    new one was generated (only on the very first start), else None."""
    organization = await get_or_create_organization(session, org_name)
    if configured_key:
        if await repository.find_key_by_hash(session, hash_key(configured_key)) is None:
            await create_key(session, organization, "configured", configured_key)
        return organization, None
    if await repository.count_keys(session, organization.id):
        return organization, None
    new = await create_key(session, organization, "default")
    return organization, new.secret
