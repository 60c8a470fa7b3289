"""The organization-wide do-not-call list: numbers that are never dialled."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet import phones
from callfleet.api.errors import Invalid
from callfleet.db.models import Suppression
from callfleet.logging import mask_phone
from callfleet.suppressions import repository

log = structlog.get_logger()


def normalize_all(numbers: list[str], region: str) -> list[str]:
    """E.164 numbers, in order, without duplicates; any invalid one raises
    ``Invalid`` naming every bad index."""
    normalized: list[str] = []
    errors = []
    for index, raw in enumerate(numbers):
        try:
            normalized.append(phones.normalize(raw, region))
        except phones.InvalidPhoneNumber as exc:
            errors.append(
                {
                    "loc": ["body", "phone_numbers", index],
                    "msg": str(exc),
                    "type": "phone_number",
                }
            )
    if errors:
        raise Invalid(errors)
    return list(dict.fromkeys(normalized))


async def add_numbers(
    session: AsyncSession,
    organization_id: str,
    numbers: list[str],
    *,
    reason: str,
    region: str,
    now: datetime,
) -> tuple[list[Suppression], int]:
    """Suppress ``numbers``; returns every entry and how many already existed."""
    normalized = normalize_all(numbers, region)
    existing = await repository.find(session, organization_id, normalized)
    entries = []
    for number in normalized:
        entry = existing.get(number)
        if entry is None:
            entry = await repository.add(
                session,
                organization_id,
                number,
                reason=reason,
                source="api",
                call_log_id=None,
                now=now,
            )
        entries.append(entry)
    return entries, len(existing)


async def suppress_from_call(
    session: AsyncSession,
    organization_id: str,
    phone_number: str,
    *,
    call_log_id: int,
    now: datetime,
) -> bool:
    """Add a number whose callee asked not to be called again; False if it was
    already on the list."""
    existing = await repository.find(session, organization_id, [phone_number])
    if existing:
        return False
    await repository.add(
        session,
        organization_id,
        phone_number,
        reason="do-not-call requested during a call",
        source="call",
        call_log_id=call_log_id,
        now=now,
    )
    log.info(
        "suppression.added_from_call",
        phone=mask_phone(phone_number),
        call_log_id=call_log_id,
    )
    return True


async def remove(
    session: AsyncSession, organization_id: str, key: str, region: str
) -> int:
    """Remove an entry by id or phone number."""
    try:
        number: str | None = phones.normalize(key, region)
    except phones.InvalidPhoneNumber:
        number = None
    return await repository.remove(session, organization_id, key, number)
