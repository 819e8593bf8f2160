"""Statements on the driver's own connection (core.storage.direct), on SQLite and PostgreSQL: rows
stored and read exactly as through SQLAlchemy, transactions that leave nothing behind when they
fail or are cancelled, and statement counters that still hear every statement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage import tables
from core.storage.direct import DirectPool, Prepared
from tests.integration.db_fixtures import TestDatabase

_jobs = tables.jobs
_usage = tables.usage
WHEN = datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=UTC)

_COUNTER_OF_SELECT = sa.select(_usage.c.used, _usage.c.bonus, _usage.c.period_start).where(
    _usage.c.scope_kind == sa.bindparam("kind"), _usage.c.scope_key == sa.bindparam("key")
)
_COUNTER_OF = Prepared(_COUNTER_OF_SELECT)
_COUNTER_CHARGED = Prepared(
    sa.update(_usage)
    .where(_usage.c.scope_kind == sa.bindparam("kind"), _usage.c.scope_key == sa.bindparam("key"))
    .values(used=_usage.c.used + sa.bindparam("credits", type_=sa.Integer))
    .returning(_usage.c.used)
)
_COUNTER_MADE = Prepared(sa.insert(_usage))
# A constant IN list is expanded once, when the statement is prepared.
_IN_KINDS = Prepared(
    sa.select(_usage.c.scope_key)
    .where(_usage.c.scope_kind.in_(("user", "community")))
    .order_by(_usage.c.scope_key)
)


def _counter(kind: str, key: str, used: int = 0) -> dict[str, Any]:
    return {"scope_kind": kind, "scope_key": key, "period_start": WHEN, "used": used, "bonus": 0}


async def _pool_with_counter(database: TestDatabase) -> DirectPool:
    """Direct connections to ``database``, where user u1's counter exists at 0."""
    pool = DirectPool(database.engine)
    async with pool.write() as direct:
        await direct.executemany(_COUNTER_MADE, [_counter("user", "u1")])
    return pool


async def _used(sessions: async_sessionmaker[AsyncSession], key: str) -> int | None:
    async with sessions() as session:
        return await session.scalar(sa.select(_usage.c.used).where(_usage.c.scope_key == key))


async def test_rows_go_in_and_out_as_through_sqlalchemy(
    database: TestDatabase, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pool = DirectPool(database.engine)
    async with pool.write() as direct:
        await direct.executemany(_COUNTER_MADE, [_counter("user", "u1", 2), _counter("community", "c1")])
    # Written on the driver, read through SQLAlchemy: the same aware datetime.
    async with sessionmaker() as session:
        stored = (await session.execute(sa.select(_usage).where(_usage.c.scope_key == "u1"))).one()
    assert (stored.used, stored.period_start) == (2, WHEN)
    async with pool.autocommit() as direct:
        row = await direct.first(_COUNTER_OF, kind="user", key="u1")
        assert row == {"used": 2, "bonus": 0, "period_start": WHEN}
        assert await direct.first(_COUNTER_OF, kind="user", key="nobody") is None
        assert [r["scope_key"] for r in await direct.rows(_IN_KINDS)] == ["c1", "u1"]
        assert await direct.rows(_COUNTER_CHARGED, kind="user", key="u1", credits=3) == [{"used": 5}]
    assert await _used(sessionmaker, "u1") == 5


async def test_a_failed_transaction_leaves_nothing_and_the_connection_serves_the_next(
    database: TestDatabase, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pool = await _pool_with_counter(database)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        async with pool.write() as direct:
            await direct.execute(_COUNTER_CHARGED, kind="user", key="u1", credits=4)
            await direct.executemany(_COUNTER_MADE, [_counter("user", "u1")])  # the same key again
    assert await _used(sessionmaker, "u1") == 0  # the charge before the error was rolled back
    for _ in range(3):  # every pooled connection is usable, none holds a lock
        async with pool.write(read_first=True) as direct:
            assert await direct.first(_COUNTER_OF, kind="user", key="u1") is not None
            await direct.execute(_COUNTER_CHARGED, kind="user", key="u1", credits=1)
    assert await _used(sessionmaker, "u1") == 3


async def test_a_cancelled_transaction_is_rolled_back_and_releases_its_lock(
    database: TestDatabase, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pool = await _pool_with_counter(database)
    inside = asyncio.Event()

    async def charge_then_hang() -> None:
        async with pool.write() as direct:
            await direct.execute(_COUNTER_CHARGED, kind="user", key="u1", credits=7)
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(charge_then_hang())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Had the row lock (PostgreSQL) or the write lock (SQLite) stayed, this would wait forever.
    async with asyncio.timeout(20):
        async with pool.write() as direct:
            await direct.execute(_COUNTER_CHARGED, kind="user", key="u1", credits=1)
    assert await _used(sessionmaker, "u1") == 1


async def test_statement_counters_hear_statements_run_on_the_driver(database: TestDatabase) -> None:
    pool = DirectPool(database.engine)
    heard: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        heard.append(statement.split(None, 1)[0].upper())

    sa.event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with pool.write() as direct:
            await direct.executemany(_COUNTER_MADE, [_counter("user", "u1")])
            await direct.execute(_COUNTER_CHARGED, kind="user", key="u1", credits=1)
        async with pool.autocommit() as direct:
            await direct.rows(_COUNTER_OF, kind="user", key="u1")
    finally:
        sa.event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert [s for s in heard if s != "BEGIN"] == ["INSERT", "UPDATE", "SELECT"]


async def test_statements_it_cannot_run_faithfully_are_refused(database: TestDatabase) -> None:
    pool = DirectPool(database.engine)
    per_call_list = Prepared(
        sa.select(_usage.c.used).where(_usage.c.scope_key.in_(sa.bindparam("keys", expanding=True)))
    )
    async with pool.autocommit() as direct:
        with pytest.raises(ValueError, match="expanding"):
            await direct.rows(per_call_list, keys=["a", "b"])
        with pytest.raises(ValueError, match="missing"):
            await direct.rows(Prepared(_COUNTER_OF_SELECT), kind="user")
