"""The Alembic migrations build exactly the schema the models describe, and
can be undone and redone."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, BigInteger, DateTime, Integer, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from callfleet.db.engine import alembic_config, migrate, normalize_url
from callfleet.db.models import Base
from callfleet.db.types import UTCDateTime


def _effective(type_: TypeEngine[Any], dialect: Any) -> TypeEngine[Any]:
    """The type the model really asks of this dialect: variants resolved and
    decorators unwrapped."""
    variants = getattr(type_, "_variant_mapping", {})
    if dialect.name in variants:
        type_ = variants[dialect.name]
    if isinstance(type_, UTCDateTime):
        type_ = type_.impl_instance
    return type_


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """Exact comparison for the types whose reflection alembic reads loosely;
    returns True when they differ, None to let alembic decide for the rest."""
    dialect = context.dialect
    wanted = _effective(metadata_type, dialect)
    if isinstance(wanted, DateTime):
        if not isinstance(inspected_type, DateTime):
            return True
        # SQLite keeps no time zone flag; PostgreSQL must say timestamptz.
        return dialect.name != "sqlite" and not inspected_type.timezone
    if isinstance(wanted, postgresql.JSONB):
        return not isinstance(inspected_type, postgresql.JSONB)
    if isinstance(wanted, JSON):
        return not isinstance(inspected_type, JSON)
    if isinstance(wanted, BigInteger):
        return not isinstance(inspected_type, BigInteger)
    if isinstance(wanted, Integer):
        return not isinstance(inspected_type, Integer) or isinstance(
            inspected_type, BigInteger
        )
    return None


def _differences(url: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(
                            sync, opts={"compare_type": compare_type}
                        ),
                        Base.metadata,
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: set(inspect(sync).get_table_names())
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrations_equal_models(empty_database_url):
    migrate(empty_database_url)
    assert _differences(empty_database_url) == []


def test_downgrade_to_base_and_upgrade_again(empty_database_url):
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    model_tables = set(Base.metadata.tables)
    assert model_tables <= _tables(empty_database_url)
    command.downgrade(config, "base")
    assert _tables(empty_database_url) & model_tables == set()
    command.upgrade(config, "head")
    assert _differences(empty_database_url) == []


def test_comparator_sees_a_real_type_change(empty_database_url):
    """The comparator must not hide differences: a column of another type in
    the database is reported."""
    migrate(empty_database_url)

    async def alter() -> None:
        engine = create_async_engine(
            normalize_url(empty_database_url), poolclass=NullPool
        )
        try:
            async with engine.begin() as connection:
                if connection.dialect.name == "sqlite":
                    await connection.exec_driver_sql("DROP TABLE suppressions")
                    await connection.exec_driver_sql(
                        "CREATE TABLE suppressions (id VARCHAR(36) PRIMARY KEY, "
                        "organization_id VARCHAR(36) NOT NULL, phone_number "
                        "VARCHAR(32) NOT NULL, reason VARCHAR(500) NOT NULL, "
                        "source VARCHAR(20) NOT NULL, call_log_id VARCHAR(20), "
                        "created_at DATETIME NOT NULL)"
                    )
                else:
                    await connection.exec_driver_sql(
                        "ALTER TABLE suppressions ALTER COLUMN created_at "
                        "TYPE TIMESTAMP WITHOUT TIME ZONE"
                    )
        finally:
            await engine.dispose()

    asyncio.run(alter())
    assert any(
        diff[0][0] == "modify_type" and diff[0][2] == "suppressions"
        for diff in _differences(empty_database_url)
        if isinstance(diff, list)
    )
