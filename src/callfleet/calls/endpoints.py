"""HTTP routes for call logs and live calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from callfleet import phones
from callfleet.api.deps import AuthDep, ConfigDep, SessionDep, not_found
from callfleet.api.pagination import UntilDate, as_utc, page_meta
from callfleet.calls import repository, service
from callfleet.calls.schemas import CallLogExportInformation, CallLogExportPaginated

router = APIRouter(prefix="/api/v1", tags=["Call Logs"])
live_router = APIRouter(prefix="/api/v1", tags=["Live Calls"])

MAX_ID = 9_223_372_036_854_775_807


@router.get(
    "/call-logs", response_model=CallLogExportPaginated, summary="List Call Logs"
)
async def list_call_logs(
    auth: AuthDep,
    session: SessionDep,
    page: Annotated[
        int, Query(ge=0, le=10_000_000, description="The page number to get.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="The number of call logs per page.")
    ] = 200,
    from_date: Annotated[
        datetime | None, Query(description="Filter logs from this date.")
    ] = None,
    to_date: Annotated[
        UntilDate, Query(description="Filter logs until this date.")
    ] = None,
    campaign_id: Annotated[
        str | None, Query(description="Filter logs by campaign ID.", max_length=200)
    ] = None,
) -> CallLogExportPaginated:
    """List all call logs for the organization with pagination and date filtering."""
    logs, total = await repository.list_page(
        session,
        auth.organization_id,
        campaign_id=campaign_id,
        from_date=as_utc(from_date),
        to_date=as_utc(to_date),
        page=page,
        limit=limit,
    )
    page_count, next_page = page_meta(total, page, limit)
    return CallLogExportPaginated(
        call_logs=[service.list_item(log) for log in logs],
        page_count=page_count,
        next_page=next_page,
    )


@router.get(
    "/call-logs/{call_log_id}",
    response_model=CallLogExportInformation,
    summary="Get Call Log",
)
async def get_call_log(
    call_log_id: Annotated[
        int,
        Path(
            ge=0,
            le=MAX_ID,
            description="The ID of the call log to get the information.",
        ),
    ],
    auth: AuthDep,
    session: SessionDep,
    include_recordings: Annotated[
        bool, Query(description="Whether to include recordings.")
    ] = False,
) -> CallLogExportInformation:
    """Get detailed information for a specific call log."""
    log = await repository.get(session, auth.organization_id, call_log_id)
    if log is None:
        raise not_found("call log", call_log_id)
    return service.detail(log, include_recordings)


@live_router.get("/live-calls", summary="Get Live Call")
async def get_live_call(
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    key: Annotated[
        str | None,
        Query(description="The key of the variable to search for", max_length=200),
    ] = None,
    value: Annotated[
        str | None,
        Query(description="The value of the variable to search for", max_length=2000),
    ] = None,
    call_log_id: Annotated[
        int | None,
        Query(ge=0, le=MAX_ID, description="The ID of the call log to search for"),
    ] = None,
    user_phone_number: Annotated[
        str | None,
        Query(description="The phone number of the user to search for", max_length=64),
    ] = None,
) -> dict[str, Any]:
    """Return a flat snapshot of a call by one of ``call_log_id``,
    ``user_phone_number``, or ``key`` + ``value`` (a variable of the target's
    input data). A live call comes first (``source=live_calls``), else the
    latest call log (``source=call_logs``). Nested values use dotted keys."""
    if call_log_id is not None:
        log = await repository.get(session, auth.organization_id, call_log_id)
    elif user_phone_number is not None:
        try:
            phone = phones.normalize(user_phone_number, config.default_region)
        except phones.InvalidPhoneNumber as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    {
                        "loc": ["query", "user_phone_number"],
                        "msg": str(exc),
                        "type": "phone_number",
                    }
                ],
            ) from exc
        log = await repository.find_by_phone(session, auth.organization_id, phone)
    elif key is not None and value is not None:
        log = await repository.find_by_variable(
            session, auth.organization_id, key, value
        )
    else:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["query"],
                    "msg": "give call_log_id, user_phone_number, or key and value",
                    "type": "missing",
                }
            ],
        )
    if log is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no call found")
    return service.live_snapshot(log)
