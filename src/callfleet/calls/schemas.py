"""Wire format of call logs (Prosper's export shape plus additive keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CallLogListExportInformation(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    to: str
    from_: str
    created_at: datetime
    call_length: str = Field(description="Call length in seconds, as text.")
    call_ended_reason: str
    call_categorization: dict[str, Any] | None
    agent_data: dict[str, Any]
    campaign_target_id: str | None
    post_call_data: dict[str, Any] | None
    qa: dict[str, Any] | None
    transcripts: list[dict[str, str]]
    # Additive keys.
    campaign_id: str
    attempt: int
    state: str
    disposition: str | None
    provider: str
    provider_call_id: str | None
    provider_code: int | None
    provider_reason: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    summary: str | None
    provider_data: dict[str, Any]


class CallLogExportInformation(CallLogListExportInformation):
    recording_urls: list[str | None]


class CallLogExportPaginated(BaseModel):
    call_logs: list[CallLogListExportInformation]
    page_count: int
    next_page: int | None
