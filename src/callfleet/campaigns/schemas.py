"""Wire format of the campaign API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from callfleet.campaigns.settings import CampaignSettings


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class CampaignCreate(CampaignSettings):
    """A campaign's settings; only ``name`` is required."""


class CampaignClone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)


class WebhookEndpointView(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str = ""
    secret: str | None = Field(
        default=None,
        description="Only in the response of the request that created or changed it.",
    )
    secret_rotating_until: datetime | None = None


class CampaignResponse(BaseModel):
    """The campaign's settings as stored, with identity and lifecycle fields."""

    model_config = ConfigDict(extra="allow")

    id: str
    organization_id: str
    status: CampaignStatus
    name: str
    created_at: datetime
    updated_at: datetime
    paused_at: datetime | None = None
    cancelled_at: datetime | None = None
    completed_at: datetime | None = None
    archived_at: datetime | None = None
    webhook_endpoints: list[WebhookEndpointView] = Field(default_factory=list)
    target_counts: dict[str, int] | None = None


class CampaignList(BaseModel):
    campaigns: list[CampaignResponse]
    page_count: int
    next_page: int | None


class VariablesResponse(BaseModel):
    variables: list[str]
    campaign_id: str


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes a key,
    anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
