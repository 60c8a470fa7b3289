"""Rules of the webhook APIs; the caller's request owns the transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.api.errors import Conflict, NotFound
from callfleet.api.pagination import page_meta
from callfleet.db.models import (
    Campaign,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)
from callfleet.notifications import outbox, repository, subscriptions
from callfleet.notifications.schemas import (
    DeliveryAttemptView,
    DeliveryList,
    DeliveryView,
    RotatedSecret,
    TestDelivery,
    TestNotificationResponse,
)

log = structlog.get_logger()


async def get_campaign(
    session: AsyncSession, org_id: str, campaign_id: str
) -> Campaign:
    campaign = await repository.get_campaign(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


async def rerun_failed(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    from_date: datetime,
    to_date: datetime,
    now: datetime,
) -> int:
    await get_campaign(session, org_id, campaign_id)
    requeued = await repository.requeue_failed(
        session,
        org_id=org_id,
        campaign_id=campaign_id,
        from_date=from_date,
        to_date=to_date,
        now=now,
        retry_window=outbox.RETRY_WINDOW,
    )
    log.info("webhooks.rerun_failed", campaign_id=campaign_id, requeued=requeued)
    return requeued


async def retry(
    session: AsyncSession, org_id: str, delivery_id: str, now: datetime
) -> DeliveryView:
    """Send a delivery again now, whatever its outcome was, under the same
    webhook-id."""
    delivery = await repository.get_delivery(session, org_id, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    if delivery.status == "delivering":
        raise Conflict(f"webhook delivery {delivery_id} is being sent right now")
    repository.requeue(delivery, now, outbox.RETRY_WINDOW)
    await session.flush()
    log.info("webhooks.retry", delivery_id=delivery_id, event_id=delivery.event_id)
    return (await _views(session, org_id, [delivery]))[0]


async def get_delivery(
    session: AsyncSession, org_id: str, delivery_id: str
) -> DeliveryView:
    delivery = await repository.get_delivery(session, org_id, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return (await _views(session, org_id, [delivery]))[0]


async def list_deliveries(
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
) -> DeliveryList:
    rows, total = await repository.list_page(
        session,
        org_id,
        campaign_id=campaign_id,
        event_id=event_id,
        statuses=statuses,
        from_date=from_date,
        to_date=to_date,
        page=page,
        limit=limit,
    )
    attempts = await repository.attempts_of(session, [d.id for d, _, _ in rows])
    page_count, next_page = page_meta(total, page, limit)
    return DeliveryList(
        deliveries=[
            _view(delivery, event, endpoint, attempts[delivery.id])
            for delivery, event, endpoint in rows
        ],
        total=total,
        page_count=page_count,
        next_page=next_page,
    )


async def rotate_secret(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    endpoint_id: str,
    now: datetime,
) -> RotatedSecret:
    await get_campaign(session, org_id, campaign_id)
    endpoint = await repository.get_endpoint(session, org_id, campaign_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    secret = subscriptions.rotate_secret(endpoint, now)
    await session.flush()
    log.info(
        "webhooks.secret_rotated", endpoint_id=endpoint_id, campaign_id=campaign_id
    )
    return RotatedSecret(
        endpoint_id=endpoint.id,
        secret=secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


async def send_test(
    session: AsyncSession, org_id: str, campaign_id: str, now: datetime
) -> TestNotificationResponse:
    """Queue a signed ``test`` event to every endpoint of the campaign. It goes
    through the delivery worker like any event, with a single attempt."""
    campaign = await get_campaign(session, org_id, campaign_id)
    endpoints = await subscriptions.list_endpoints(session, campaign.id)
    event = await outbox.emit_test(
        session, campaign=campaign, endpoints=endpoints, now=now
    )
    rows = await repository.rows_for_event(session, org_id, event.id)
    return TestNotificationResponse(
        event_id=event.id,
        deliveries=[
            TestDelivery(delivery_id=d.id, endpoint_id=e.id, url=e.url)
            for d, _, e in rows
        ],
    )


async def _views(
    session: AsyncSession, org_id: str, deliveries: list[WebhookDelivery]
) -> list[DeliveryView]:
    ids = [d.id for d in deliveries]
    rows = await repository.rows_for(session, org_id, ids)
    attempts = await repository.attempts_of(session, ids)
    return [_view(d, ev, ep, attempts[d.id]) for d, ev, ep in rows]


def _view(
    delivery: WebhookDelivery,
    event: WebhookEvent,
    endpoint: WebhookEndpoint,
    attempts: list[WebhookDeliveryAttempt],
) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event.event_type,
        campaign_id=delivery.campaign_id,
        target_id=delivery.target_id,
        call_log_id=event.call_log_id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at
        if delivery.status == "pending"
        else None,
        retry_until=delivery.retry_until,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        succeeded_at=delivery.succeeded_at,
        failed_at=delivery.failed_at,
        payload=outbox.ordered(event.event_type, event.payload),
        attempt_log=[
            DeliveryAttemptView(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_excerpt=a.response_excerpt,
                error=a.error,
            )
            for a in attempts
        ],
    )
