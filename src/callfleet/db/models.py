"""The database schema. Every table is scoped to an organization."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from callfleet.db.types import BigIntPK, JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_org_created", "organization_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    # active | paused | cancelled | completed | archived
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (
        Index("ix_targets_campaign_created", "campaign_id", "created_at"),
        Index(
            "ix_targets_campaign_status_due", "campaign_id", "status", "next_attempt_at"
        ),
        Index("ix_targets_campaign_external", "campaign_id", "external_id"),
        Index("ix_targets_org_created", "organization_id", "created_at"),
        Index("ix_targets_org_phone", "organization_id", "phone_number"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    phone_number: Mapped[str] = mapped_column(String(32))
    operating_hours: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    fallback_phone_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fallback_operating_hours: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    timezones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    input_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pre_call_data: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    patient: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    output_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(20), default="Pending")
    resolution: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subcategory: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)
    categorization: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    statistics: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    free_retries: Mapped[int] = mapped_column(Integer, default=0)
    disposition_streak: Mapped[int] = mapped_column(Integer, default=0)
    last_disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queue_rank: Mapped[int] = mapped_column(BigInteger, default=0)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    execution_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallLog(Base):
    """One attempt: created when a target is claimed, holds the lease while live."""

    __tablename__ = "call_logs"
    __table_args__ = (
        # A target never has two attempts that are not fully processed.
        Index(
            "uq_call_logs_open_target",
            "target_id",
            unique=True,
            sqlite_where=text("completed_at IS NULL"),
            postgresql_where=text("completed_at IS NULL"),
        ),
        # Open attempts of a campaign (its concurrency in use), without reading
        # the campaign's whole call history.
        Index(
            "ix_call_logs_open_campaign",
            "campaign_id",
            sqlite_where=text("completed_at IS NULL"),
            postgresql_where=text("completed_at IS NULL"),
        ),
        Index("ix_call_logs_state_lease", "state", "lease_expires_at"),
        Index("ix_call_logs_org_created", "organization_id", "created_at"),
        Index("ix_call_logs_campaign_created", "campaign_id", "created_at"),
        Index("ix_call_logs_target", "target_id"),
        Index("ix_call_logs_org_to", "organization_id", "to_number"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    target_id: Mapped[str | None] = mapped_column(
        ForeignKey("targets.id", ondelete="SET NULL"), nullable=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    to_number: Mapped[str] = mapped_column(String(32))
    from_number: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(50))
    provider_call_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # dialing | in_progress | post_processing | completed
    state: Mapped[str] = mapped_column(String(20), default="dialing")
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    provider_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    call_ended_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)

    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)

    transcripts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    post_call_data: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    qa: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    call_categorization: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, nullable=True
    )
    agent_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    provider_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    recording_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    live_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)


class Suppression(Base):
    """Do-not-call list entry, organization-wide."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("organization_id", "phone_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    phone_number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(20), default="api")  # api | call
    call_log_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_campaign", "campaign_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """Transactional outbox: written in the same transaction as its cause."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_campaign_created", "campaign_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    target_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    call_log_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # pending: deliveries not yet created; fanned_out: deliveries exist
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint, retried until it succeeds or gives up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_campaign_created", "campaign_id", "created_at"),
        Index("ix_webhook_deliveries_endpoint_target", "endpoint_id", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    target_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sequence: Mapped[int] = mapped_column(BigIntPK, default=0)
    # pending | delivering | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Retries stop here: about a day after the delivery was queued or re-queued.
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDeliveryAttempt(Base):
    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
