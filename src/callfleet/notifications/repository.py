"""All SQL of webhook deliveries: claiming, recording, listing, re-queueing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callfleet.db.models import (
    Campaign,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

OPEN_STATUSES = ("pending", "delivering")


@dataclass(frozen=True)
class ClaimedDelivery:
    """What a worker needs to send one delivery, detached from the session."""

    id: str
    token: str
    event_id: str
    event_type: str
    endpoint_id: str
    campaign_id: str
    target_id: str | None
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    payload: dict[str, Any]
    attempts: int
    retry_until: datetime | None


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: str
    token: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None
    error: str | None
    succeeded: bool
    # When to try again; None gives up (failed) unless it succeeded.
    next_attempt_at: datetime | None


def _claimable(now: datetime) -> Any:
    delivery = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    # An earlier delivery of the same target to the same endpoint that is not
    # settled yet holds this one back, so a receiver sees a target's events in
    # order.
    blocked = exists().where(
        earlier.endpoint_id == delivery.endpoint_id,
        earlier.target_id == delivery.target_id,
        earlier.sequence < delivery.sequence,
        earlier.status.in_(OPEN_STATUSES),
    )
    return and_(delivery.status == "pending", delivery.next_attempt_at <= now, ~blocked)


async def release_expired(session: AsyncSession, now: datetime) -> int:
    """Return deliveries whose lease ran out (their worker died mid-send) to the
    queue, due at once."""
    outcome = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "delivering",
            WebhookDelivery.locked_until < now,
        )
        .values(
            status="pending", next_attempt_at=now, locked_by=None, locked_until=None
        )
        .execution_options(synchronize_session=False)
    )
    return outcome.rowcount or 0


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    worker_id: str,
    lease: timedelta,
    room: int,
    endpoint_room: dict[str, int],
    per_endpoint: int,
    skip_locked: bool,
    new_token: Any,
) -> list[ClaimedDelivery]:
    """Lease up to ``room`` due deliveries, at most ``endpoint_room[e]`` (or
    ``per_endpoint``) for each endpoint ``e``."""
    full = [e for e, free in endpoint_room.items() if free <= 0]
    query = (
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .where(_claimable(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.sequence)
        .limit(room * 4)
    )
    if full:
        query = query.where(WebhookDelivery.endpoint_id.not_in(full))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    candidates = (await session.execute(query)).all()

    chosen_ids: list[str] = []
    taken: dict[str, int] = {}
    for delivery_id, endpoint_id in candidates:
        free = endpoint_room.get(endpoint_id, per_endpoint)
        if taken.get(endpoint_id, 0) >= free:
            continue
        taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
        chosen_ids.append(delivery_id)
        if len(chosen_ids) >= room:
            break
    if not chosen_ids:
        return []
    chosen = list(
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id.in_(chosen_ids))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.sequence)
        )
    )

    events = {
        e.id: e
        for e in await session.scalars(
            select(WebhookEvent).where(
                WebhookEvent.id.in_({d.event_id for d in chosen})
            )
        )
    }
    endpoints = {
        e.id: e
        for e in await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({d.endpoint_id for d in chosen})
            )
        )
    }
    claimed = []
    for delivery in chosen:
        token = new_token()
        delivery.status = "delivering"
        delivery.locked_by = token
        delivery.locked_until = now + lease
        delivery.updated_at = now
        event = events[delivery.event_id]
        endpoint = endpoints[delivery.endpoint_id]
        claimed.append(
            ClaimedDelivery(
                id=delivery.id,
                token=token,
                event_id=delivery.event_id,
                event_type=event.event_type,
                endpoint_id=endpoint.id,
                campaign_id=delivery.campaign_id,
                target_id=delivery.target_id,
                url=endpoint.url,
                secret=endpoint.secret,
                previous_secret=endpoint.previous_secret,
                previous_secret_expires_at=endpoint.previous_secret_expires_at,
                payload=event.payload,
                attempts=delivery.attempts,
                retry_until=delivery.retry_until,
            )
        )
    await session.flush()
    return claimed


async def record(session: AsyncSession, results: Sequence[AttemptResult]) -> int:
    """Store attempts and settle their deliveries. A delivery whose lease was
    taken over meanwhile keeps its new owner's state; its attempt is still
    logged. Returns how many deliveries were settled."""
    settled = 0
    for result in results:
        session.add(
            WebhookDeliveryAttempt(
                delivery_id=result.delivery_id,
                attempted_at=result.attempted_at,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                response_excerpt=result.response_excerpt,
                error=result.error,
            )
        )
        values: dict[str, Any] = {
            "attempts": WebhookDelivery.attempts + 1,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "locked_by": None,
            "locked_until": None,
            "updated_at": result.attempted_at,
        }
        if result.succeeded:
            values.update(status="succeeded", succeeded_at=result.attempted_at)
        elif result.next_attempt_at is None:
            values.update(status="failed", failed_at=result.attempted_at)
        else:
            values.update(status="pending", next_attempt_at=result.next_attempt_at)
        outcome = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == result.delivery_id,
                WebhookDelivery.locked_by == result.token,
                WebhookDelivery.status == "delivering",
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        settled += outcome.rowcount or 0
    await session.flush()
    return settled


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest time a pending delivery becomes due."""
    return await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status == "pending"
        )
    )


async def get_campaign(
    session: AsyncSession, org_id: str, campaign_id: str
) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.id == campaign_id, Campaign.organization_id == org_id
        )
    )


async def get_endpoint(
    session: AsyncSession, org_id: str, campaign_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.campaign_id == campaign_id,
            WebhookEndpoint.organization_id == org_id,
        )
    )


async def get_delivery(
    session: AsyncSession, org_id: str, delivery_id: str
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.organization_id == org_id,
        )
    )


Row = tuple[WebhookDelivery, WebhookEvent, WebhookEndpoint]


def _rows() -> Any:
    return (
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    )


async def list_page(
    session: AsyncSession,
    org_id: str,
    *,
    campaign_id: str | None,
    event_id: str | None,
    statuses: Collection[str] | None,
    from_date: datetime | None,
    to_date: datetime | None,
    page: int,
    limit: int,
) -> tuple[list[Row], int]:
    conditions = [WebhookDelivery.organization_id == org_id]
    if campaign_id is not None:
        conditions.append(WebhookDelivery.campaign_id == campaign_id)
    if event_id is not None:
        conditions.append(WebhookDelivery.event_id == event_id)
    if statuses:
        conditions.append(WebhookDelivery.status.in_(statuses))
    if from_date is not None:
        conditions.append(WebhookDelivery.created_at >= from_date)
    if to_date is not None:
        conditions.append(WebhookDelivery.created_at <= to_date)
    total = await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(*conditions)
    )
    rows = await session.execute(
        _rows()
        .where(*conditions)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .offset(page * limit)
        .limit(limit)
    )
    return [tuple(row) for row in rows], total or 0  # type: ignore[misc]


async def rows_for(
    session: AsyncSession, org_id: str, delivery_ids: Collection[str]
) -> list[Row]:
    rows = await session.execute(
        _rows().where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.id.in_(delivery_ids),
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def rows_for_event(
    session: AsyncSession, org_id: str, event_id: str
) -> list[Row]:
    rows = await session.execute(
        _rows()
        .where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.event_id == event_id,
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def attempts_of(
    session: AsyncSession, delivery_ids: Collection[str]
) -> dict[str, list[WebhookDeliveryAttempt]]:
    found: dict[str, list[WebhookDeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    for attempt in await session.scalars(
        select(WebhookDeliveryAttempt)
        .where(WebhookDeliveryAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookDeliveryAttempt.id)
    ):
        found[attempt.delivery_id].append(attempt)
    return found


async def requeue_failed(
    session: AsyncSession,
    *,
    org_id: str,
    campaign_id: str,
    from_date: datetime,
    to_date: datetime,
    now: datetime,
    retry_window: timedelta,
) -> int:
    """Put the failed deliveries of events created in the window back in the
    queue, with a fresh retry window. Their event, and so their webhook-id,
    stays the same."""
    in_window = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.campaign_id == campaign_id,
            WebhookEvent.created_at >= from_date,
            WebhookEvent.created_at <= to_date,
        )
        .scalar_subquery()
    )
    outcome = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.campaign_id == campaign_id,
            WebhookDelivery.status == "failed",
            WebhookDelivery.event_id.in_(in_window),
        )
        .values(**_requeued(now, retry_window))
        .execution_options(synchronize_session=False)
    )
    return outcome.rowcount or 0


def requeue(delivery: WebhookDelivery, now: datetime, retry_window: timedelta) -> None:
    for name, value in _requeued(now, retry_window).items():
        setattr(delivery, name, value)


def _requeued(now: datetime, retry_window: timedelta) -> dict[str, Any]:
    return {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "retry_until": now + retry_window,
        "locked_by": None,
        "locked_until": None,
        "failed_at": None,
        "updated_at": now,
    }
