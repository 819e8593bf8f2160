"""Engines: URL handling, SQLite's concurrency settings, PostgreSQL's schema placement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import ConfigError
from core.storage.db import READ_ONLY, create_engine, normalize_url
from core.storage.tables import UTCDateTime
from tests.integration.db_fixtures import TestDatabase


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///editbot.db", "sqlite+aiosqlite:///editbot.db"),
        ("sqlite+aiosqlite:///editbot.db", "sqlite+aiosqlite:///editbot.db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db"),
    ],
)
def test_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url"])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="EDITBOT_DATABASE_URL"):
        normalize_url(url)


def test_schema_is_postgres_only() -> None:
    with pytest.raises(ConfigError):
        create_engine("sqlite+aiosqlite:///x.db", schema="s")


async def test_sqlite_connections_are_set_up_for_concurrency(sqlite_database: TestDatabase) -> None:
    async with sqlite_database.engine.connect() as connection:
        pragma = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000, "synchronous": 1}


async def test_sqlite_transactions_take_the_write_lock_up_front(sqlite_database: TestDatabase) -> None:
    impatient = sqlite_database.new_engine(sqlite_busy_timeout_ms=50)
    try:
        async with sqlite_database.engine.connect() as writer:
            await writer.begin()  # BEGIN IMMEDIATE: the lock is held before any statement
            async with impatient.connect() as other:
                with pytest.raises(OperationalError, match="locked"):
                    await other.begin()
                await other.rollback()
            async with impatient.connect() as reader:
                await reader.execution_options(**READ_ONLY)
                await reader.begin()  # a deferred read transaction does not wait for the writer
                assert (await reader.exec_driver_sql("SELECT 1")).scalar() == 1
                await reader.rollback()
            await writer.rollback()
    finally:
        await impatient.dispose()


@pytest.mark.postgres
async def test_postgres_engine_lives_in_its_schema(postgres_database: TestDatabase) -> None:
    async with postgres_database.engine.connect() as connection:
        assert (
            await connection.execute(sa.text("SELECT current_schema()"))
        ).scalar() == postgres_database.schema


async def test_datetimes_come_back_aware_utc(empty_database: TestDatabase) -> None:
    table = sa.Table(
        "t_when", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime())
    )
    shanghai = timezone(timedelta(hours=8))
    when = datetime(2025, 3, 1, 20, 30, 0, 5, tzinfo=shanghai)
    async with empty_database.engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
        await connection.execute(table.insert().values(id=1, at=when))
        got = (await connection.execute(sa.select(table.c.at))).scalar_one()
        matched = (
            await connection.execute(sa.select(table.c.id).where(table.c.at == when.astimezone(UTC)))
        ).scalar()
    assert got == when and got.tzinfo is UTC
    assert matched == 1


async def test_naive_datetimes_are_refused(empty_database: TestDatabase) -> None:
    table = sa.Table("t_naive", sa.MetaData(), sa.Column("at", UTCDateTime()))
    async with empty_database.engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            await connection.execute(table.insert().values(at=datetime(2025, 1, 1)))


async def test_new_sqlite_file_opened_by_many_at_once(tmp_path: Path) -> None:
    """Processes starting together on a new file: the switch to WAL waits instead of failing."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    engines = [create_engine(url) for _ in range(8)]

    async def write(engine: AsyncEngine, n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (:n)"), {"n": n})

    try:
        await asyncio.gather(*(write(e, i) for i, e in enumerate(engines)))
        async with engines[0].connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 8
            assert (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar() == "wal"
    finally:
        for engine in engines:
            await engine.dispose()
