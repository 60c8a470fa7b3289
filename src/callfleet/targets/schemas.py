"""Wire format of targets: Prosper's request and response shapes, plus ours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callfleet.campaigns.settings import OperatingHours, require_intervals
from callfleet.targets.status import TargetStatus


class TargetInputPhoneNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(max_length=64, description="The phone number of the target")
    operating_hours: OperatingHours | None = Field(
        default=None,
        description="When this number may be called; days left out are closed.",
    )

    _hours = field_validator("operating_hours")(
        classmethod(lambda cls, v: require_intervals(v))
    )


class PatientInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    extra_data: dict[str, Any] | None = None


class TargetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None, description="The ID of the target: a version 4 UUID, optional."
    )
    external_id: str | None = Field(default=None, max_length=255)
    phone_number: str | TargetInputPhoneNumber
    fallback_phone_number: str | TargetInputPhoneNumber | None = None
    input_data: dict[str, Any] = Field(default_factory=dict)
    patient: PatientInput | None = None
    pre_call_data: dict[str, Any] | None = None


class AddTargetsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[Any] | None = Field(
        default=None,
        description="The list of targets as TargetInputs (at most 10,000 a request).",
        json_schema_extra={"items": {"$ref": "#/components/schemas/TargetInput"}},
    )
    launch: bool = Field(
        default=False,
        description="Whether to launch the targets immediately or only add them.",
    )
    allow_duplicates: bool = Field(
        default=True,
        description="true: targets are added even when their external_id is "
        "already in the campaign. false: a target whose external_id is already "
        "in the campaign (or earlier in the same request) is skipped and reported "
        "under 'skipped'.",
    )


class TargetResult(BaseModel):
    index: int
    id: str | None = Field(
        description="The target's id; null for a skipped target whose id was not "
        "given (nothing was stored for it)."
    )
    result: str = Field(description="created | already_present | skipped")
    status: str | None = None
    reason: str | None = None


class AddTargetsResponse(BaseModel):
    created: int
    already_present: int
    skipped: int
    launched: int
    target_ids: list[str] = Field(
        description="Ids of the targets now in the campaign (created or already "
        "present), in request order."
    )
    results: list[TargetResult]


class DeleteTargetsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_ids: list[str] = Field(max_length=10_000)


class DeleteTargetsResponse(BaseModel):
    deleted: int
    deleted_ids: list[str]
    not_found: list[str]
    in_progress: list[str]


class LaunchTargetsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_ids: list[str] | None = Field(default=None, max_length=10_000)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    prioritize_oldest: bool = False


class LaunchTargetsResponse(BaseModel):
    launched: int
    target_ids: list[str]
    not_launched: list[dict[str, str]]


class UpdateTargetInputDataRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_data: dict[str, Any]
    only_if_not_started: bool = True


class CampaignTargetResponse(BaseModel):
    id: str
    target_url: str
    organization_id: str
    campaign_id: str
    created_at: datetime
    execution_minutes: int | None
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    status: TargetStatus
    resolution: str | None
    category: str | None
    subcategory: str | None
    call_log_ids: list[int] | None
    last_call_date: datetime | None
    phone_number: str | None
    fax_links: list[str] | None = None
    payor_api_data: dict[str, Any] | None = None
    external_id: str | None
    updated_at: datetime | None = None
    retries: int | None = None
    scheduled_time: datetime | None = None
    categorization: dict[str, Any] | None = None
    outcome: str | None = None
    statistics: dict[str, Any] | None = None
    # Additive keys.
    attempt: int
    max_attempts: int
    next_attempt_scheduled: datetime | None
    fallback_phone_number: str | None = None
    timezones: list[str] = Field(default_factory=list)
    pre_call_data: dict[str, Any] | None = None
    patient: dict[str, Any] | None = None
    finished_at: datetime | None = None


class PaginatedTargets(BaseModel):
    targets: list[CampaignTargetResponse]
    page_count: int | None
    next_page: int | None
    total: int
