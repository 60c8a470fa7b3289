"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` over ``{id}.{timestamp}.{body}``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook


def active_secrets(
    secret: str,
    previous_secret: str | None,
    previous_secret_expires_at: datetime | None,
    now: datetime,
) -> list[str]:
    """The secrets to sign with: the current one, and during a rotation's grace
    period the previous one too, so receivers holding either verify."""
    secrets = [secret]
    if (
        previous_secret
        and previous_secret_expires_at is not None
        and now < previous_secret_expires_at
    ):
        secrets.append(previous_secret)
    return secrets


def signature(
    secrets: Sequence[str], event_id: str, timestamp: datetime, body: bytes
) -> str:
    """One ``v1,<base64>`` signature per secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(event_id, timestamp, body) for secret in secrets
    )


def signed_headers(
    secrets: Sequence[str], event_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature(secrets, event_id, timestamp, body),
    }
