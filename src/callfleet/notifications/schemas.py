"""Wire format of the webhook APIs."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RerunFailedWebhooksBody(BaseModel):
    from_date: datetime = Field(
        description="Start of the window (webhook event created_at), inclusive."
    )
    to_date: datetime = Field(
        description="End of the window (webhook event created_at), inclusive."
    )

    @field_validator("from_date", "to_date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _aware(value)

    @model_validator(mode="after")
    def _ordered(self) -> RerunFailedWebhooksBody:
        if self.to_date < self.from_date:
            raise ValueError("to_date is before from_date")
        return self


class RerunFailedResponse(BaseModel):
    requeued: int = Field(description="Failed deliveries queued again.")


class DeliveryAttemptView(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    response_excerpt: str | None = Field(
        description="The start of the receiver's answer, at most 1000 characters."
    )
    error: str | None


class DeliveryView(BaseModel):
    id: str
    event_id: str = Field(description="Sent as webhook-id; the same on every retry.")
    event_type: str
    campaign_id: str
    target_id: str | None
    call_log_id: int | None
    endpoint_id: str
    url: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts since the delivery was (re)queued.")
    next_attempt_at: datetime | None
    retry_until: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None
    failed_at: datetime | None
    payload: dict[str, Any]
    attempt_log: list[DeliveryAttemptView] = Field(
        description="Every attempt ever made, oldest first."
    )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    total: int
    page_count: int
    next_page: int | None


class RotatedSecret(BaseModel):
    endpoint_id: str
    secret: str = Field(description="The new secret; shown in this response only.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then, webhooks carry a signature with the old secret too."
    )


class TestDelivery(BaseModel):
    delivery_id: str
    endpoint_id: str
    url: str


class TestNotificationResponse(BaseModel):
    event_id: str
    deliveries: list[TestDelivery] = Field(
        description="One per endpoint; follow them in GET /api/v1/webhook-deliveries."
    )
