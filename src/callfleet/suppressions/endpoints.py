"""HTTP routes of the do-not-call list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from callfleet import phones
from callfleet.api.deps import AuthDep, ClockDep, ConfigDep, SessionDep, not_found
from callfleet.api.pagination import page_meta
from callfleet.db.models import Suppression
from callfleet.suppressions import repository, service
from callfleet.suppressions.schemas import (
    SuppressionCreate,
    SuppressionList,
    SuppressionsCreated,
    SuppressionView,
)

router = APIRouter(prefix="/api/v1/suppressions", tags=["Suppressions"])


def _view(entry: Suppression) -> SuppressionView:
    return SuppressionView(
        id=entry.id,
        phone_number=entry.phone_number,
        reason=entry.reason,
        source=entry.source,
        call_log_id=entry.call_log_id,
        created_at=entry.created_at,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SuppressionsCreated
)
async def add_suppressions(
    body: SuppressionCreate,
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    clock: ClockDep,
) -> SuppressionsCreated:
    """Put numbers on the organization's do-not-call list. They are never dialled
    again, in any campaign; a target already scheduled ends as Failed with
    category BLACKLISTED_PHONE when its turn comes."""
    entries, already = await service.add_numbers(
        session,
        auth.organization_id,
        body.numbers(),
        reason=body.reason,
        region=config.default_region,
        now=clock.now(),
    )
    return SuppressionsCreated(
        created=len(entries) - already,
        already_present=already,
        suppressions=[_view(e) for e in entries],
    )


@router.get("", response_model=SuppressionList)
async def list_suppressions(
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    page: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    phone_number: Annotated[str | None, Query(max_length=64)] = None,
) -> SuppressionList:
    """The do-not-call list, newest first; ``phone_number`` looks one number up."""
    number = None
    if phone_number:
        try:
            number = phones.normalize(phone_number, config.default_region)
        except phones.InvalidPhoneNumber:
            number = phone_number.strip()
    total, rows = await repository.page(
        session,
        auth.organization_id,
        phone_number=number,
        offset=page * limit,
        limit=limit,
    )
    page_count, next_page = page_meta(total, page, limit)
    return SuppressionList(
        suppressions=[_view(r) for r in rows],
        total=total,
        page=page,
        page_count=page_count,
        next_page=next_page,
    )


@router.delete("/{key}")
async def delete_suppression(
    key: Annotated[str, Path(max_length=64, description="Entry id or phone number")],
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
) -> dict[str, str]:
    """Take a number off the do-not-call list."""
    removed = await service.remove(
        session, auth.organization_id, key, config.default_region
    )
    if not removed:
        raise not_found("suppression", key)
    return {"message": "suppression deleted", "id": key}
