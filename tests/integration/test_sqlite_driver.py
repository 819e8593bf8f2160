"""SQLite through aiosqlite with one trip to its thread per statement (core.storage.sqlite_driver)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage import sqlite_driver
from core.storage.db import create_engine


class CountingConnection(sqlite_driver.OneTripConnection):
    """Counts the trips to the connection's thread."""

    trips = 0

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        CountingConnection.trips += 1
        return await super()._execute(fn, *args, **kwargs)


def counting_connect(database: str, **kwargs: Any) -> CountingConnection:
    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    return CountingConnection(connector, 64)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)"))
    yield engine
    await engine.dispose()


async def test_the_engine_uses_one_trip_connections(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_driver.OneTripConnection)


async def test_rows_counts_and_errors_are_as_sqlite_gives_them(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(sa.text("INSERT INTO t (b) VALUES ('x'), ('y'), ('z') RETURNING a"))
        assert [row.a for row in inserted] == [1, 2, 3]
        updated = await conn.execute(sa.text("UPDATE t SET b = 'w' WHERE a > 1"))
        assert updated.rowcount == 2
        many = await conn.execute(sa.text("INSERT INTO t (b) VALUES (:b)"), [{"b": "m"}, {"b": "n"}])
        assert many.rowcount == 2
        empty = await conn.execute(sa.text("SELECT * FROM t WHERE a > 100"))
        assert empty.all() == []
    async with engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT a, b FROM t ORDER BY a"))
        assert result.keys() == ["a", "b"]
        assert result.fetchmany(2) == [(1, "x"), (2, "w")]
        assert result.fetchone() == (3, "w")
        assert result.all() == [(4, "m"), (5, "n")]
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(sa.text("INSERT INTO t (a, b) VALUES (1, 'again')"))


async def test_a_statement_is_one_trip(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'count.db'}", connect_args={"async_creator_fn": counting_connect}
    )
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)"))
        async with engine.connect() as conn:
            before = CountingConnection.trips
            await conn.execute(sa.text("INSERT INTO t (b) VALUES ('x') RETURNING a"))
            await conn.execute(sa.text("SELECT * FROM t"))
            await conn.commit()
            # BEGIN, two statements, COMMIT: one trip each (aiosqlite's own cursor makes up to
            # four a statement: create, execute, fetch, close).
            assert CountingConnection.trips - before == 4
    finally:
        await engine.dispose()
