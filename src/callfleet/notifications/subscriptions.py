"""Webhook endpoints of a campaign, kept in step with its notification settings.

Secrets live only in ``webhook_endpoints``: the campaign's stored settings never
hold them, and reads never return them. A new or changed secret is returned once,
by the request that set it.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.campaigns.settings import NotificationSettings
from callfleet.db.models import Campaign, WebhookEndpoint
from callfleet.notifications import url_safety

SECRET_PREFIX = "whsec_"
ROTATION_GRACE = timedelta(hours=24)


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> str:
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if len(raw) < 16:
        raise ValueError("a webhook secret needs at least 16 bytes of key material")
    return secret


async def list_endpoints(
    session: AsyncSession, campaign_id: str
) -> list[WebhookEndpoint]:
    result = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.campaign_id == campaign_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(result)


async def sync_endpoints(
    session: AsyncSession,
    campaign: Campaign,
    notifications: NotificationSettings,
    now: datetime,
    *,
    allow_private: bool | None = None,
) -> dict[str, str]:
    """Create, update and remove the campaign's endpoints to match the settings.
    Returns ``{url: secret}`` for every secret created or changed here.

    Raises ``ValueError`` naming the URL when a webhook URL points to a private
    or reserved address (unless ``allow_private``, which defaults to the
    configuration's ``webhook_allow_private``)."""
    if allow_private is None:
        allow_private = url_safety.private_allowed()
    for webhook in notifications.webhooks:
        await url_safety.check_on_save(webhook.url, allow_private=allow_private)
    existing = {
        endpoint.url: endpoint
        for endpoint in await list_endpoints(session, campaign.id)
    }
    revealed: dict[str, str] = {}
    wanted = set()
    for webhook in notifications.webhooks:
        wanted.add(webhook.url)
        endpoint = existing.get(webhook.url)
        events = [event.value for event in webhook.events]
        if endpoint is None:
            secret = (
                check_secret(webhook.secret) if webhook.secret else generate_secret()
            )
            session.add(
                WebhookEndpoint(
                    organization_id=campaign.organization_id,
                    campaign_id=campaign.id,
                    url=webhook.url,
                    events=events,
                    description=webhook.description,
                    secret=secret,
                    created_at=now,
                    updated_at=now,
                )
            )
            revealed[webhook.url] = secret
            continue
        endpoint.events = events
        endpoint.description = webhook.description
        endpoint.updated_at = now
        if webhook.secret and webhook.secret != endpoint.secret:
            rotate(endpoint, check_secret(webhook.secret), now)
            revealed[webhook.url] = webhook.secret
    removed = [e.id for url, e in existing.items() if url not in wanted]
    if removed:
        await session.execute(
            delete(WebhookEndpoint).where(WebhookEndpoint.id.in_(removed))
        )
    await session.flush()
    return revealed


def rotate_secret(endpoint: WebhookEndpoint, now: datetime) -> str:
    """Give the endpoint a freshly generated secret and return it (once)."""
    secret = generate_secret()
    rotate(endpoint, secret, now)
    return secret


def rotate(endpoint: WebhookEndpoint, new_secret: str, now: datetime) -> None:
    """Replace the secret; the old one keeps verifying for a grace period."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_GRACE
    endpoint.secret = new_secret
    endpoint.updated_at = now


def strip_secrets(settings: dict[str, Any]) -> dict[str, Any]:
    webhooks = settings.get("notifications", {}).get("webhooks", [])
    for webhook in webhooks:
        webhook.pop("secret", None)
    return settings
