"""Shared fixtures: a migrated database and a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callfleet.config import Config
from callfleet.db.engine import migrate
from testsupport import (
    SHARED,
    ServerThread,
    Tenant,
    free_port,
    fresh_database_url,
    new_api_key,
)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = fresh_database_url(tmp_path_factory.mktemp("db"))
    migrate(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerThread]:
    from callfleet.api.app import create_app

    port = free_port()
    config = Config(
        database_url=database_url,
        port=port,
        max_body_bytes=8 * 1024 * 1024,
        webhook_allow_private=True,
    )
    with ServerThread(create_app(config), port) as running:
        yield running


@pytest.fixture
def tenant(server: ServerThread, database_url: str) -> Iterator[Tenant]:
    org_id, key = new_api_key(database_url)
    tenant = Tenant(server, org_id, key)
    yield tenant
    tenant.client.close()


@pytest.fixture
def other_tenant(server: ServerThread, database_url: str) -> Iterator[Tenant]:
    org_id, key = new_api_key(database_url)
    tenant = Tenant(server, org_id, key)
    yield tenant
    tenant.client.close()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, with no tables yet."""
    url, drop = fresh_database_url(tmp_path)
    yield url
    drop()


@pytest.fixture
def fresh_url(empty_database_url: str) -> str:
    """A migrated database of the test's own (for work that must not see other
    tests' rows, such as a worker that handles everything due)."""
    migrate(empty_database_url)
    return empty_database_url
