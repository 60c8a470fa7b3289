"""A real webhook receiver on 127.0.0.1 that verifies every signature, and
helpers to seed campaigns, targets and events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callfleet.db.engine import transaction
from callfleet.db.models import CallLog, Campaign, Organization, Target, WebhookEndpoint
from callfleet.notifications import outbox, subscriptions
from testsupport import ServerThread, free_port


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    verified_by: list[str]


@dataclass
class Receiver:
    """Answers each POST with the next of ``statuses`` (200 once they run out),
    after holding it while ``hold`` is cleared. Signatures are checked against
    every secret in ``secrets``; ``verified_by`` lists those that verified."""

    secrets: list[str]
    port: int = field(default_factory=free_port)
    statuses: list[int] = field(default_factory=list)
    status_for: Callable[[Received], int] | None = None
    body: str = "ok"
    hang_s: float = 0.0
    hold: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    landed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ServerThread | None = None

    def __post_init__(self) -> None:
        self.hold.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        headers = dict(request.headers)
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(raw, headers)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        item = Received(headers["webhook-id"], json.loads(raw), headers, verified)
        with self._lock:
            self.received.append(item)
            status = (
                self.status_for(item)
                if self.status_for
                else (self.statuses.pop(0) if self.statuses else 200)
            )
        self.landed.set()
        await asyncio.to_thread(self.hold.wait)
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        extra = {"location": "http://127.0.0.1:1/"} if 300 <= status < 400 else {}
        return Response(self.body, status_code=status, headers=extra)

    def start(self) -> Receiver:
        app = Starlette(routes=[Route("/hooks", self._handle, methods=["POST"])])
        self._server = ServerThread(app, self.port).__enter__()
        return self

    def stop(self) -> None:
        self.hold.set()
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None


@dataclass
class Seeded:
    organization_id: str
    campaign_id: str
    endpoint_ids: list[str]
    target_ids: list[str]


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    urls_and_secrets: list[tuple[str, str]],
    targets: int,
    now: datetime,
    events: list[str] | None = None,
) -> Seeded:
    async with transaction(sessionmaker) as session:
        organization = Organization(name=f"org-{uuid.uuid4().hex[:10]}")
        session.add(organization)
        await session.flush()
        campaign = Campaign(
            organization_id=organization.id,
            name="Webhooks",
            settings={},
            created_at=now,
            updated_at=now,
        )
        session.add(campaign)
        await session.flush()
        endpoints = []
        for url, secret in urls_and_secrets:
            endpoint = WebhookEndpoint(
                organization_id=organization.id,
                campaign_id=campaign.id,
                url=url,
                events=events or ["campaign_target_finished", "campaign_finished"],
                secret=secret,
                created_at=now,
                updated_at=now,
            )
            session.add(endpoint)
            endpoints.append(endpoint)
        target_rows = [
            Target(
                organization_id=organization.id,
                campaign_id=campaign.id,
                phone_number="+12015550123",
                content_hash=uuid.uuid4().hex,
                external_id=f"ext-{i}",
                status="Scheduled",
                max_attempts=3,
            )
            for i in range(targets)
        ]
        session.add_all(target_rows)
        await session.flush()
        return Seeded(
            organization.id,
            campaign.id,
            [e.id for e in endpoints],
            [t.id for t in target_rows],
        )


async def finish_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    target_id: str,
    now: datetime,
    *,
    final: bool,
    next_attempt_at: datetime | None = None,
) -> None:
    """What the engine does after post-processing an attempt: update the target,
    write its call log and emit the webhook, in one transaction."""
    async with transaction(sessionmaker) as session:
        target = await session.get(Target, target_id)
        assert target is not None
        target.attempt += 1
        target.status = "Finished" if final else "Scheduled"
        target.category = "claim_status" if final else None
        call_log = CallLog(
            organization_id=target.organization_id,
            campaign_id=target.campaign_id,
            target_id=target.id,
            attempt=target.attempt,
            to_number=target.phone_number,
            from_number="+12015550100",
            provider="simulator",
            state="completed",
            created_at=now,
            completed_at=now,
        )
        session.add(call_log)
        await session.flush()
        await outbox.emit_target_finished(
            session,
            target=target,
            call_log=call_log,
            next_attempt_at=None if final else next_attempt_at,
            now=now,
        )


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Waits until ``predicate`` holds; the timeout only keeps a broken test
    from hanging."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def new_secret() -> str:
    return subscriptions.generate_secret()
