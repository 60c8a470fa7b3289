"""HTTP routes for campaigns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, status

from callfleet.api.deps import AuthDep, ClockDep, SessionDep
from callfleet.api.pagination import page_meta
from callfleet.campaigns import repository, service
from callfleet.campaigns.schemas import (
    CampaignClone,
    CampaignCreate,
    CampaignList,
    CampaignResponse,
    CampaignStatus,
    VariablesResponse,
)

router = APIRouter(prefix="/api/v1/campaigns", tags=["Campaigns"])
CampaignId = Annotated[str, Path(description="The ID of the campaign.", max_length=200)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignResponse)
async def create_campaign(
    body: CampaignCreate, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    """Create a campaign. Every setting but ``name`` has a default. Webhook
    secrets generated here are in this response only."""
    campaign, revealed = await service.create(
        session, auth.organization_id, body, clock.now()
    )
    return await service.to_response(session, campaign, revealed=revealed)


@router.get("", response_model=CampaignList)
async def list_campaigns(
    auth: AuthDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status_filter: Annotated[
        CampaignStatus | None,
        Query(alias="status", description="Only campaigns in this status."),
    ] = None,
    include_archived: bool = False,
) -> CampaignList:
    if status_filter is not None:
        statuses = [status_filter.value]
    elif include_archived:
        statuses = None
    else:
        statuses = [s.value for s in CampaignStatus if s != CampaignStatus.ARCHIVED]
    campaigns, total = await repository.list_page(
        session, auth.organization_id, statuses=statuses, page=page, limit=limit
    )
    page_count, next_page = page_meta(total, page, limit)
    return CampaignList(
        campaigns=[await service.to_response(session, c) for c in campaigns],
        page_count=page_count,
        next_page=next_page,
    )


@router.get("/{campaign_id}", response_model=CampaignResponse)
async def get_campaign(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep
) -> CampaignResponse:
    campaign = await service.get(session, auth.organization_id, campaign_id)
    return await service.to_response(session, campaign, with_counts=True)


@router.patch("/{campaign_id}", response_model=CampaignResponse)
async def update_campaign(
    campaign_id: CampaignId,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
    patch: Annotated[
        dict[str, Any],
        Body(description="A JSON merge patch (RFC 7386) over the campaign's settings."),
    ],
) -> CampaignResponse:
    campaign, revealed = await service.update(
        session, auth.organization_id, campaign_id, patch, clock.now()
    )
    return await service.to_response(session, campaign, revealed=revealed)


@router.delete("/{campaign_id}", response_model=CampaignResponse)
async def archive_campaign(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    """Archive the campaign: it stops calling and leaves default listings.
    Targets and call logs stay readable."""
    campaign = await service.archive(
        session, auth.organization_id, campaign_id, clock.now()
    )
    return await service.to_response(session, campaign)


@router.post(
    "/{campaign_id}/clone",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignResponse,
)
async def clone_campaign(
    campaign_id: CampaignId,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[CampaignClone | None, Body()] = None,
) -> CampaignResponse:
    """A new campaign with all the settings of this one and none of its targets."""
    campaign, _ = await service.clone(
        session,
        auth.organization_id,
        campaign_id,
        body.name if body else None,
        clock.now(),
    )
    return await service.to_response(session, campaign)


async def _lifecycle(
    action: str, campaign_id: str, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    campaign = await service.change_status(
        session, auth.organization_id, campaign_id, action, clock.now()
    )
    return await service.to_response(session, campaign, with_counts=True)


@router.post("/{campaign_id}/pause", response_model=CampaignResponse)
async def pause_campaign(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    """Stop starting new calls; calls in progress finish."""
    return await _lifecycle("pause", campaign_id, auth, session, clock)


@router.post("/{campaign_id}/resume", response_model=CampaignResponse)
async def resume_campaign(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    return await _lifecycle("resume", campaign_id, auth, session, clock)


@router.post("/{campaign_id}/cancel", response_model=CampaignResponse)
async def cancel_campaign(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> CampaignResponse:
    """End every target not yet started (status Failed, outcome
    ``campaign_cancelled``); calls in progress finish without retries."""
    return await _lifecycle("cancel", campaign_id, auth, session, clock)


@router.get(
    "/{campaign_id}/variables",
    response_model=VariablesResponse,
    summary="Get Required Variables",
)
async def get_required_variables(
    campaign_id: Annotated[
        str, Path(description="The ID of the campaign to get the variables from.")
    ],
    auth: AuthDep,
    session: SessionDep,
) -> VariablesResponse:
    """If successful returns a json with the needed variables for the campaign:
    the ``input_data`` keys its templates and settings read."""
    campaign = await service.get(session, auth.organization_id, campaign_id)
    return VariablesResponse(
        campaign_id=campaign.id,
        variables=service.settings_of(campaign).required_variables(),
    )
