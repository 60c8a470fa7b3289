"""Test helpers shared across test folders: fresh databases (SQLite, or
PostgreSQL when CALLFLEET_TEST_DATABASE_URL is set), a real HTTP server on
loopback, and organizations with API keys."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import make_url

from callfleet.db.engine import (
    create_engine,
    create_sessionmaker,
    execute_on_server,
    transaction,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
POSTGRES_URL = os.environ.get("CALLFLEET_TEST_DATABASE_URL")


def _admin(url: str, statement: str) -> None:
    asyncio.run(execute_on_server(url, statement))


def fresh_database_url(tmp_dir: Path) -> tuple[str, Any]:
    """A new, empty database and a function that removes it."""
    if POSTGRES_URL:
        name = f"callfleet_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _admin(POSTGRES_URL, f'CREATE DATABASE "{name}"')
        url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False), lambda: _admin(
            POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )
    path = tmp_dir / f"callfleet-{uuid.uuid4().hex[:8]}.db"
    return f"sqlite+aiosqlite:///{path}", lambda: None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """A uvicorn server for ``app`` on 127.0.0.1, in a thread of its own."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def new_api_key(database_url: str, org_name: str | None = None) -> tuple[str, str]:
    """Create an organization with a key; returns (organization_id, key)."""
    from callfleet.organizations import service

    async def create() -> tuple[str, str]:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                organization = await service.get_or_create_organization(
                    session, org_name or f"org-{uuid.uuid4().hex[:12]}"
                )
                new = await service.create_key(session, organization, "test")
                return organization.id, new.secret
        finally:
            await engine.dispose()

    return asyncio.run(create())


class Tenant:
    def __init__(self, server: ServerThread, org_id: str, key: str) -> None:
        self.org_id = org_id
        self.key = key
        self.client = httpx.Client(
            base_url=server.url, headers={"X-Api-Key": key}, timeout=60
        )

    def create_campaign(self, **settings: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/campaigns", json={"name": "Test campaign", **settings}
        )
        assert response.status_code == 201, response.text
        return response.json()
