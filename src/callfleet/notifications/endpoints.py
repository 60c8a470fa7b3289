"""HTTP routes for webhook deliveries, secrets and tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, status
from starlette.types import ASGIApp, Receive, Scope, Send

from callfleet.api.deps import AuthDep, ClockDep, SessionDep
from callfleet.notifications import service, url_safety
from callfleet.notifications.schemas import (
    DeliveryList,
    DeliveryStatus,
    DeliveryView,
    RerunFailedResponse,
    RerunFailedWebhooksBody,
    RotatedSecret,
    TestNotificationResponse,
)

campaign_router = APIRouter(prefix="/api/v1/campaigns", tags=["Campaigns"])
router = APIRouter(prefix="/api/v1/webhook-deliveries", tags=["Webhooks"])
CampaignId = Annotated[str, Path(description="The ID of the campaign.", max_length=200)]
DeliveryId = Annotated[str, Path(description="The ID of the delivery.", max_length=64)]


@campaign_router.post(
    "/{campaign_id}/webhooks/rerun-failed",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RerunFailedResponse,
    summary="Rerun Failed Webhooks",
)
async def rerun_failed_webhooks(
    campaign_id: CampaignId,
    body: RerunFailedWebhooksBody,
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
) -> RerunFailedResponse:
    """Re-run failed webhook notifications for a campaign within a time window.
    Each is sent again with its original ``webhook-id``."""
    requeued = await service.rerun_failed(
        session,
        auth.organization_id,
        campaign_id,
        body.from_date,
        body.to_date,
        clock.now(),
    )
    return RerunFailedResponse(requeued=requeued)


@campaign_router.post(
    "/{campaign_id}/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=RotatedSecret,
)
async def rotate_webhook_secret(
    campaign_id: CampaignId,
    endpoint_id: Annotated[str, Path(max_length=64)],
    auth: AuthDep,
    session: SessionDep,
    clock: ClockDep,
) -> RotatedSecret:
    """Give the endpoint a new signing secret, returned in this response only.
    For a grace period webhooks carry signatures with both the old and the new
    secret, so the receiver can switch at its own pace."""
    return await service.rotate_secret(
        session, auth.organization_id, campaign_id, endpoint_id, clock.now()
    )


@campaign_router.post(
    "/{campaign_id}/notifications/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TestNotificationResponse,
)
async def send_test_notification(
    campaign_id: CampaignId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> TestNotificationResponse:
    """Queue a signed ``test`` event (``"event": "test"``) to every endpoint of
    the campaign. It is sent by the delivery worker like any webhook, once,
    without retries; its outcome shows in ``GET /api/v1/webhook-deliveries``."""
    return await service.send_test(
        session, auth.organization_id, campaign_id, clock.now()
    )


@router.get("", response_model=DeliveryList)
async def list_webhook_deliveries(
    auth: AuthDep,
    session: SessionDep,
    campaign_id: Annotated[str | None, Query(max_length=200)] = None,
    event_id: Annotated[
        str | None, Query(max_length=64, description="The webhook-id.")
    ] = None,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    from_date: Annotated[
        datetime | None, Query(description="Queued at or after (inclusive).")
    ] = None,
    to_date: Annotated[
        datetime | None, Query(description="Queued at or before (inclusive).")
    ] = None,
    page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryList:
    """Webhook deliveries, newest first, each with all of its attempts."""
    return await service.list_deliveries(
        session,
        auth.organization_id,
        campaign_id=campaign_id,
        event_id=event_id,
        statuses=[status_filter.value] if status_filter else None,
        from_date=_aware(from_date),
        to_date=_aware(to_date),
        page=page,
        limit=limit,
    )


@router.get("/{delivery_id}", response_model=DeliveryView)
async def get_webhook_delivery(
    delivery_id: DeliveryId, auth: AuthDep, session: SessionDep
) -> DeliveryView:
    return await service.get_delivery(session, auth.organization_id, delivery_id)


@router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryView,
)
async def retry_webhook_delivery(
    delivery_id: DeliveryId, auth: AuthDep, session: SessionDep, clock: ClockDep
) -> DeliveryView:
    """Send the delivery again now, with its original ``webhook-id`` and a
    fresh retry window."""
    return await service.retry(session, auth.organization_id, delivery_id, clock.now())


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _PrivateAddressPolicy:
    """Makes the app's ``webhook_allow_private`` the policy for webhook URLs
    saved during its requests (campaign create and update)."""

    def __init__(self, app: ASGIApp, allow_private: bool) -> None:
        self.app = app
        self.allow_private = allow_private

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = url_safety.allow_private_var.set(self.allow_private)
        try:
            await self.app(scope, receive, send)
        finally:
            url_safety.allow_private_var.reset(token)


def install(app: FastAPI) -> None:
    """Add the webhook routes to ``app`` and apply its private-address policy."""
    app.include_router(campaign_router)
    app.include_router(router)
    app.add_middleware(
        _PrivateAddressPolicy, allow_private=app.state.config.webhook_allow_private
    )
