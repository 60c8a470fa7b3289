"""A fresh, empty database per test: a SQLite file, or a new PostgreSQL
database when CALLFLEET_TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url


def _admin(url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        parsed = make_url(url)
        connection = await asyncpg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            database=parsed.database or "postgres",
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    postgres = os.environ.get("CALLFLEET_TEST_DATABASE_URL")
    if not postgres:
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"callfleet_migrations_{uuid.uuid4().hex[:10]}"
    _admin(postgres, f'CREATE DATABASE "{name}"')
    url = make_url(postgres).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
