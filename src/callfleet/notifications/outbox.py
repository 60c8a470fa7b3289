"""The transactional outbox: webhook events written with the change that causes
them.

The engine calls these functions inside the transaction that changes a target or
a campaign. The event row and one delivery row per subscribed endpoint are added
to that same session, so a rollback takes the webhook with it and a commit makes
it durable; the delivery worker only ever sends what was committed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import (
    CallLog,
    Campaign,
    Target,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

log = structlog.get_logger()

TARGET_FINISHED = "campaign_target_finished"
CAMPAIGN_FINISHED = "campaign_finished"
TEST_EVENT = "test"

# A failing delivery is retried for about a day after it was queued.
RETRY_WINDOW = timedelta(hours=24)

EVENT_ID_PREFIX = "msg_"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Key order of each payload as sent. PostgreSQL's JSONB does not keep the order
# of stored keys, so it is restored from these when a payload is encoded.
PAYLOAD_KEYS = {
    TARGET_FINISHED: (
        "campaign_id",
        "call_log_id",
        "target_id",
        "attempt",
        "max_attempts",
        "next_attempt_scheduled",
        "event",
        "event_id",
        "status",
        "category",
        "subcategory",
        "resolution",
        "outcome",
        "organization_id",
        "external_id",
        "timestamp",
    ),
    CAMPAIGN_FINISHED: (
        "campaign_id",
        "organization_id",
        "event",
        "event_id",
        "status",
        "completed_at",
        "targets",
        "timestamp",
    ),
    TEST_EVENT: ("campaign_id", "organization_id", "event", "event_id", "timestamp"),
}


def ordered(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its keys in their documented order."""
    keys = PAYLOAD_KEYS.get(event_type, ())
    result = {key: payload[key] for key in keys if key in payload}
    result.update((key, payload[key]) for key in sorted(payload) if key not in result)
    return result


def new_event_id(now: datetime | None = None) -> str:
    """A ``msg_`` id whose first characters sort by creation time (ULID layout:
    48 bits of milliseconds, 80 random bits, Crockford base32)."""
    millis = int(now.timestamp() * 1000) if now is not None else time.time_ns() // 10**6
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return EVENT_ID_PREFIX + "".join(reversed(chars))


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, millisecond precision."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def target_finished_payload(
    *,
    event_id: str,
    target: Target,
    call_log: CallLog | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Prosper's keys first and in Prosper's order, then ours."""
    attempt = call_log.attempt if call_log is not None else target.attempt
    return {
        "campaign_id": target.campaign_id,
        "call_log_id": call_log.id if call_log is not None else None,
        "target_id": target.id,
        "attempt": attempt,
        "max_attempts": target.max_attempts,
        "next_attempt_scheduled": isoformat(next_attempt_at),
        "event": TARGET_FINISHED,
        "event_id": event_id,
        "status": target.status,
        "category": target.category,
        "subcategory": target.subcategory,
        "resolution": target.resolution,
        "outcome": target.outcome,
        "organization_id": target.organization_id,
        "external_id": target.external_id,
        "timestamp": isoformat(now),
    }


async def emit_target_finished(
    session: AsyncSession,
    *,
    target: Target,
    call_log: CallLog | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """Queue ``campaign_target_finished`` after the post-processing of an attempt.
    ``next_attempt_at`` is the planned next attempt, or None when the target is
    final."""
    event_id = new_event_id(now)
    payload = target_finished_payload(
        event_id=event_id,
        target=target,
        call_log=call_log,
        next_attempt_at=next_attempt_at,
        now=now,
    )
    await _write(
        session,
        event_id=event_id,
        organization_id=target.organization_id,
        campaign_id=target.campaign_id,
        target_id=target.id,
        call_log_id=call_log.id if call_log is not None else None,
        event_type=TARGET_FINISHED,
        payload=payload,
        now=now,
    )


async def emit_campaign_finished(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> None:
    """Queue ``campaign_finished`` with the campaign's target counts by status."""
    rows = await session.execute(
        select(Target.status, func.count())
        .where(Target.campaign_id == campaign.id)
        .group_by(Target.status)
    )
    counts = {status: count for status, count in rows}
    event_id = new_event_id(now)
    payload = {
        "campaign_id": campaign.id,
        "organization_id": campaign.organization_id,
        "event": CAMPAIGN_FINISHED,
        "event_id": event_id,
        "status": campaign.status,
        "completed_at": isoformat(campaign.completed_at or now),
        "targets": {"total": sum(counts.values()), "by_status": counts},
        "timestamp": isoformat(now),
    }
    await _write(
        session,
        event_id=event_id,
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        target_id=None,
        call_log_id=None,
        event_type=CAMPAIGN_FINISHED,
        payload=payload,
        now=now,
    )


async def emit_test(
    session: AsyncSession,
    *,
    campaign: Campaign,
    endpoints: Iterable[WebhookEndpoint],
    now: datetime,
) -> WebhookEvent:
    """Queue a ``test`` event to the given endpoints, whatever they subscribe to."""
    event_id = new_event_id(now)
    payload = {
        "campaign_id": campaign.id,
        "organization_id": campaign.organization_id,
        "event": TEST_EVENT,
        "event_id": event_id,
        "timestamp": isoformat(now),
    }
    return await _write(
        session,
        event_id=event_id,
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        target_id=None,
        call_log_id=None,
        event_type=TEST_EVENT,
        payload=payload,
        now=now,
        endpoints=list(endpoints),
        # A test is a single attempt: its result is what the caller wants to see.
        retry_window=timedelta(0),
    )


async def _write(
    session: AsyncSession,
    *,
    event_id: str,
    organization_id: str,
    campaign_id: str,
    target_id: str | None,
    call_log_id: int | None,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    endpoints: list[WebhookEndpoint] | None = None,
    retry_window: timedelta = RETRY_WINDOW,
) -> WebhookEvent:
    if endpoints is None:
        candidates = await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.campaign_id == campaign_id)
        )
        endpoints = [e for e in candidates if event_type in (e.events or [])]

    event = WebhookEvent(
        id=event_id,
        organization_id=organization_id,
        campaign_id=campaign_id,
        target_id=target_id,
        call_log_id=call_log_id,
        event_type=event_type,
        payload=payload,
        state="fanned_out",
        created_at=now,
    )
    session.add(event)
    # No relationship links the two mappers, so the event goes in first for the
    # deliveries' foreign key.
    await session.flush()

    # The sequence orders one target's deliveries to one endpoint; the engine
    # changes a target in one transaction at a time, so max + 1 does not race.
    last_sequence: dict[str, int] = {}
    if target_id is not None and endpoints:
        rows = await session.execute(
            select(WebhookDelivery.endpoint_id, func.max(WebhookDelivery.sequence))
            .where(WebhookDelivery.target_id == target_id)
            .group_by(WebhookDelivery.endpoint_id)
        )
        last_sequence = {endpoint_id: seq or 0 for endpoint_id, seq in rows}

    for endpoint in endpoints:
        session.add(
            WebhookDelivery(
                organization_id=organization_id,
                campaign_id=campaign_id,
                event_id=event_id,
                endpoint_id=endpoint.id,
                target_id=target_id,
                sequence=last_sequence.get(endpoint.id, 0) + 1,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                retry_until=now + retry_window,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    log.info(
        "webhook.queued",
        event_type=event_type,
        event_id=event_id,
        campaign_id=campaign_id,
        target_id=target_id,
        endpoints=len(endpoints),
    )
    return event
