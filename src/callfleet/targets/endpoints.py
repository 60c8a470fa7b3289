"""HTTP routes for targets, on Prosper's paths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from callfleet.api.deps import AuthDep, ClockDep, ConfigDep, SessionDep
from callfleet.api.pagination import UntilDate, as_utc, page_meta
from callfleet.campaigns import service as campaigns_service
from callfleet.targets import repository, service
from callfleet.targets.schemas import (
    AddTargetsRequest,
    AddTargetsResponse,
    CampaignTargetResponse,
    DeleteTargetsRequest,
    DeleteTargetsResponse,
    LaunchTargetsRequest,
    LaunchTargetsResponse,
    PaginatedTargets,
    UpdateTargetInputDataRequest,
)
from callfleet.targets.status import TargetStatus

campaign_router = APIRouter(prefix="/api/v1/campaigns", tags=["Campaigns"])
router = APIRouter(prefix="/api/v1/targets", tags=["Targets"])

CampaignId = Annotated[str, Path(description="The ID of the campaign.", max_length=200)]
TargetId = Annotated[str, Path(description="The ID of the target.", max_length=200)]
Page = Annotated[int, Query(ge=0, le=10_000_000, description="The page number to get.")]
Limit = Annotated[
    int, Query(ge=1, le=100, description="The number of targets per page.")
]
DateFilter = Annotated[datetime | None, Query(examples=["2024-01-01"])]
DateUntil = Annotated[UntilDate, Query(examples=["2024-01-01"])]


@dataclass
class TargetListQuery:
    """Prosper's paging and filters of a target list, as query parameters."""

    page: Page = 0
    limit: Limit = 10
    status: TargetStatus | None = None
    from_date: DateFilter = None
    to_date: DateUntil = None
    from_last_call_date: DateFilter = None
    to_last_call_date: DateUntil = None

    async def run(
        self, session: SessionDep, base_url: str, org_id: str, campaign_id: str | None
    ) -> PaginatedTargets:
        targets, total = await repository.list_page(
            session,
            org_id,
            campaign_id,
            page=self.page,
            limit=self.limit,
            status=self.status.value if self.status else None,
            from_date=as_utc(self.from_date),
            to_date=as_utc(self.to_date),
            from_last_call_date=as_utc(self.from_last_call_date),
            to_last_call_date=as_utc(self.to_last_call_date),
        )
        page_count, next_page = page_meta(total, self.page, self.limit)
        return PaginatedTargets(
            targets=await service.responses(session, targets, base_url),
            page_count=page_count,
            next_page=next_page,
            total=total,
        )


ListQuery = Annotated[TargetListQuery, Depends()]


@campaign_router.post(
    "/{campaign_id}/targets", response_model=AddTargetsResponse, summary="Add Targets"
)
async def add_targets(
    campaign_id: Annotated[
        str,
        Path(description="The ID of the campaign to add targets to.", max_length=200),
    ],
    body: AddTargetsRequest,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
    config: ConfigDep,
) -> AddTargetsResponse:
    """Add targets to a campaign. All or nothing: if any target is invalid the
    request is refused with a 422 listing every bad target, and nothing is
    stored. A target re-posted with the same ``id`` and content is reported as
    ``already_present``; the same ``id`` with other content is a 409."""
    return await service.add_targets(
        session,
        auth.organization_id,
        campaign_id,
        body.targets or [],
        launch=body.launch,
        allow_duplicates=body.allow_duplicates,
        default_region=config.default_region,
        max_targets=config.max_targets_per_request,
        now=clock.now(),
    )


@campaign_router.delete(
    "/{campaign_id}/targets",
    response_model=DeleteTargetsResponse,
    summary="Delete Targets",
)
async def delete_targets(
    campaign_id: Annotated[
        str,
        Path(
            description="The ID of the campaign to delete targets from.", max_length=200
        ),
    ],
    body: DeleteTargetsRequest,
    auth: AuthDep,
    session: SessionDep,
) -> DeleteTargetsResponse:
    """Delete targets from a campaign. Targets with a call in progress are kept
    and listed under ``in_progress``; their call logs remain readable."""
    return await service.delete_targets(
        session, auth.organization_id, campaign_id, body.target_ids
    )


@campaign_router.get(
    "/{campaign_id}/targets",
    response_model=PaginatedTargets,
    summary="Get Campaign Targets",
)
async def get_campaign_targets(
    campaign_id: CampaignId,
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    query: ListQuery,
) -> PaginatedTargets:
    campaign = await campaigns_service.get(session, auth.organization_id, campaign_id)
    return await query.run(session, config.base_url, auth.organization_id, campaign.id)


@campaign_router.get(
    "/{campaign_id}/patient/targets",
    response_model=PaginatedTargets,
    summary="Get Patient Campaign Targets",
)
async def get_patient_campaign_targets(
    campaign_id: CampaignId,
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    query: ListQuery,
) -> PaginatedTargets:
    """The campaign's targets in the patient view (same keys; ``patient`` holds
    the linked patient)."""
    campaign = await campaigns_service.get(session, auth.organization_id, campaign_id)
    return await query.run(session, config.base_url, auth.organization_id, campaign.id)


@campaign_router.post(
    "/{campaign_id}/calls",
    response_model=LaunchTargetsResponse,
    summary="Campaign Calls",
)
async def campaign_calls(
    campaign_id: CampaignId,
    body: LaunchTargetsRequest,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
) -> LaunchTargetsResponse:
    """Launch Pending targets: the ones named in ``target_ids``, or ``count``
    of them (random, or oldest first with ``prioritize_oldest``)."""
    return await service.launch_targets(
        session,
        auth.organization_id,
        campaign_id,
        target_ids=body.target_ids,
        count=body.count,
        prioritize_oldest=body.prioritize_oldest,
        now=clock.now(),
    )


@router.get("", response_model=PaginatedTargets)
async def list_targets(
    auth: AuthDep,
    session: SessionDep,
    config: ConfigDep,
    query: ListQuery,
    campaign_id: Annotated[str | None, Query(max_length=200)] = None,
) -> PaginatedTargets:
    """Targets of the organization, optionally of one campaign."""
    if campaign_id is not None:
        await campaigns_service.get(session, auth.organization_id, campaign_id)
    return await query.run(session, config.base_url, auth.organization_id, campaign_id)


@router.get(
    "/{target_id}", response_model=CampaignTargetResponse, summary="Retrieve Target"
)
async def retrieve_target(
    target_id: TargetId, auth: AuthDep, session: SessionDep, config: ConfigDep
) -> CampaignTargetResponse:
    target = await service.get(session, auth.organization_id, target_id)
    return (await service.responses(session, [target], config.base_url))[0]


@router.patch(
    "/{target_id}",
    response_model=CampaignTargetResponse,
    summary="Update Target Input Data",
)
async def update_target_input_data(
    target_id: TargetId,
    body: UpdateTargetInputDataRequest,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
    config: ConfigDep,
) -> CampaignTargetResponse:
    """Merge keys into the target's ``input_data`` (keys not sent are kept).
    With ``only_if_not_started`` (default) a target that has started answers 409."""
    target = await service.update_input_data(
        session,
        auth.organization_id,
        target_id,
        body.input_data,
        only_if_not_started=body.only_if_not_started,
        now=clock.now(),
    )
    return (await service.responses(session, [target], config.base_url))[0]


@router.post("/{target_id}/cancel", response_model=CampaignTargetResponse)
async def cancel_target(
    target_id: TargetId,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
    config: ConfigDep,
) -> CampaignTargetResponse:
    """Stop a target: if not started it ends now (Failed, outcome ``cancelled``);
    a call in progress finishes and no further attempt follows."""
    target = await service.cancel(session, auth.organization_id, target_id, clock.now())
    return (await service.responses(session, [target], config.base_url))[0]
