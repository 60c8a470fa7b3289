"""Campaign rules: settings validation, lifecycle, cloning. No SQL here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.api.errors import Conflict, Invalid, NotFound
from callfleet.campaigns import repository
from callfleet.campaigns.schemas import (
    CampaignResponse,
    CampaignStatus,
    WebhookEndpointView,
    merge_patch,
)
from callfleet.campaigns.settings import CampaignSettings
from callfleet.db.models import Campaign
from callfleet.notifications import subscriptions
from callfleet.targets import repository as targets_repository

# Which lifecycle moves are allowed from which status.
_TRANSITIONS: dict[str, set[CampaignStatus]] = {
    "pause": {CampaignStatus.ACTIVE},
    "resume": {CampaignStatus.PAUSED},
    "cancel": {CampaignStatus.ACTIVE, CampaignStatus.PAUSED, CampaignStatus.COMPLETED},
}


def settings_of(campaign: Campaign) -> CampaignSettings:
    return CampaignSettings.model_validate(campaign.settings)


def _validation_errors(
    exc: ValidationError, prefix: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [
        {
            "loc": [*prefix, *error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False)
    ]


async def get(session: AsyncSession, org_id: str, campaign_id: str) -> Campaign:
    campaign = await repository.get(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def create(
    session: AsyncSession,
    org_id: str,
    settings: CampaignSettings,
    now: datetime,
) -> tuple[Campaign, dict[str, str]]:
    stored = subscriptions.strip_secrets(settings.model_dump(mode="json"))
    campaign = Campaign(
        organization_id=org_id,
        name=settings.name,
        status=CampaignStatus.ACTIVE,
        settings=stored,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, campaign)
    revealed = await _sync_webhooks(session, campaign, settings, now)
    return campaign, revealed


async def _sync_webhooks(
    session: AsyncSession, campaign: Campaign, settings: CampaignSettings, now: datetime
) -> dict[str, str]:
    try:
        return await subscriptions.sync_endpoints(
            session, campaign, settings.notifications, now
        )
    except ValueError as exc:
        raise Invalid(
            [
                {
                    "loc": ["body", "notifications", "webhooks"],
                    "msg": str(exc),
                    "type": "value_error",
                }
            ]
        ) from exc


async def update(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    patch: dict[str, Any],
    now: datetime,
) -> tuple[Campaign, dict[str, str]]:
    campaign = await repository.get_for_update(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if campaign.status == CampaignStatus.ARCHIVED:
        raise Conflict(f"campaign {campaign_id} is archived and cannot be changed")
    for key in ("id", "organization_id", "status", "created_at", "updated_at"):
        if key in patch:
            raise Invalid(
                [
                    {
                        "loc": ["body", key],
                        "msg": f"'{key}' cannot be changed here"
                        + (" (use pause, resume or cancel)" if key == "status" else ""),
                        "type": "value_error",
                    }
                ]
            )
    current = dict(campaign.settings)
    # Secrets are not stored in settings; keep the endpoints' secrets unless the
    # patch sets new ones.
    merged = merge_patch(current, patch)
    try:
        settings = CampaignSettings.model_validate(merged)
    except ValidationError as exc:
        raise Invalid(_validation_errors(exc, ("body",))) from exc
    campaign.settings = subscriptions.strip_secrets(settings.model_dump(mode="json"))
    campaign.name = settings.name
    campaign.updated_at = now
    revealed = await _sync_webhooks(session, campaign, settings, now)
    await session.flush()
    return campaign, revealed


async def change_status(
    session: AsyncSession, org_id: str, campaign_id: str, action: str, now: datetime
) -> Campaign:
    campaign = await repository.get_for_update(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    allowed = _TRANSITIONS[action]
    if campaign.status not in allowed:
        raise Conflict(
            f"cannot {action} campaign {campaign_id}: it is {campaign.status}"
        )
    if action == "pause":
        campaign.status = CampaignStatus.PAUSED
        campaign.paused_at = now
    elif action == "resume":
        campaign.status = CampaignStatus.ACTIVE
        campaign.paused_at = None
    elif action == "cancel":
        campaign.status = CampaignStatus.CANCELLED
        campaign.cancelled_at = now
        await targets_repository.end_not_started(
            session, campaign.id, outcome="campaign_cancelled", now=now
        )
    campaign.updated_at = now
    await session.flush()
    return campaign


async def archive(
    session: AsyncSession, org_id: str, campaign_id: str, now: datetime
) -> Campaign:
    campaign = await repository.get_for_update(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if campaign.status != CampaignStatus.ARCHIVED:
        await targets_repository.end_not_started(
            session, campaign.id, outcome="campaign_archived", now=now
        )
        campaign.status = CampaignStatus.ARCHIVED
        campaign.archived_at = now
        campaign.updated_at = now
        await session.flush()
    return campaign


async def clone(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    name: str | None,
    now: datetime,
) -> tuple[Campaign, dict[str, str]]:
    source = await get(session, org_id, campaign_id)
    settings = settings_of(source)
    secrets = {
        endpoint.url: endpoint.secret
        for endpoint in await subscriptions.list_endpoints(session, source.id)
    }
    data = settings.model_dump(mode="json")
    data["name"] = name or f"{settings.name} (copy)"[:200]
    for webhook in data["notifications"]["webhooks"]:
        webhook["secret"] = secrets.get(webhook["url"])
    clone_settings = CampaignSettings.model_validate(data)
    campaign, _ = await create(session, org_id, clone_settings, now)
    # The clone's receivers keep verifying with the secrets they already hold.
    return campaign, {}


async def to_response(
    session: AsyncSession,
    campaign: Campaign,
    *,
    revealed: dict[str, str] | None = None,
    with_counts: bool = False,
) -> CampaignResponse:
    endpoints = await subscriptions.list_endpoints(session, campaign.id)
    revealed = revealed or {}
    views = [
        WebhookEndpointView(
            id=endpoint.id,
            url=endpoint.url,
            events=list(endpoint.events),
            description=endpoint.description,
            secret=revealed.get(endpoint.url),
            secret_rotating_until=endpoint.previous_secret_expires_at,
        )
        for endpoint in endpoints
    ]
    body = dict(campaign.settings)
    body.update(
        id=campaign.id,
        organization_id=campaign.organization_id,
        status=campaign.status,
        name=campaign.name,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        paused_at=campaign.paused_at,
        cancelled_at=campaign.cancelled_at,
        completed_at=campaign.completed_at,
        archived_at=campaign.archived_at,
        webhook_endpoints=views,
        target_counts=(
            await repository.target_counts(session, campaign.id)
            if with_counts
            else None
        ),
    )
    return CampaignResponse.model_validate(body)
