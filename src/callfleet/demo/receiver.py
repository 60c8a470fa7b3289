"""A webhook receiver that verifies every Standard Webhooks signature, as an
integrator's endpoint would."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callfleet.embedded import free_port


@dataclass
class Received:
    webhook_id: str
    verified: bool
    payload: dict[str, Any]


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    @property
    def verified(self) -> int:
        return sum(1 for item in self.received if item.verified)

    @property
    def unique_ids(self) -> int:
        return len({item.webhook_id for item in self.received})

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [r.payload for r in self.received if r.payload.get("event") == kind]

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        verified = False
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified = True
            break
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        self.received.append(
            Received(
                webhook_id=headers.get("webhook-id", ""),
                verified=verified,
                payload=payload if isinstance(payload, dict) else {},
            )
        )
        return Response(status_code=204 if verified else 401)

    async def __aenter__(self) -> WebhookReceiver:
        app = Starlette(routes=[Route("/webhooks", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=self.host, port=self.port, log_level="warning")
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
