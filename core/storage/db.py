"""Engines and session factories for SQLite (one process) and PostgreSQL (one or more processes).

SQLite is made safe for concurrent use:
- WAL journal, so readers never block the writer and the writer never blocks readers;
- ``busy_timeout``, so a connection waits for the write lock instead of failing at once;
- ``foreign_keys`` on;
- SQLAlchemy's "begin" event emits ``BEGIN IMMEDIATE``: a transaction takes the write lock before
  its first statement. With a deferred BEGIN, two transactions can both read, then both try to
  write; one of them gets ``SQLITE_BUSY`` at once (the busy timeout cannot help, waiting would
  deadlock). Statements run on the driver (:mod:`core.storage.direct`) rely on the sqlite3
  driver instead (its ``isolation_level`` is ``IMMEDIATE``): it begins a transaction with its first
  write, in the same call, and never for a SELECT.
  Read-only work may pass :data:`READ_ONLY` as execution options to begin a deferred transaction,
  and a single SELECT :data:`SINGLE_READ` (a single write :data:`SINGLE_WRITE`) to run without one
  (SQLite runs a lone statement atomically on its own; it saves a ``BEGIN`` round trip through the
  driver's thread).

PostgreSQL runs on asyncpg with a bounded, pre-pinged pool. ``schema`` puts every connection in
one schema (``search_path``), which is how tests share a server without seeing each other.

Nothing here runs at import time; ``bots/`` creates the engine from ``EDITBOT_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from core.errors import ConfigError
from core.storage import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for the write lock before giving up."""

BEGIN_OPTION = "editbot_sqlite_begin"
"""Execution option naming the SQLite ``BEGIN`` flavour (``IMMEDIATE`` unless told otherwise)."""

READ_ONLY: Mapping[str, Any] = {BEGIN_OPTION: "DEFERRED"}
"""Execution options for a read-only transaction: on SQLite it does not take the write lock."""

SINGLE_READ: Mapping[str, Any] = {BEGIN_OPTION: "NONE"}
"""Execution options for work that is one SELECT: on SQLite no ``BEGIN`` at all (autocommit)."""

SINGLE_WRITE: Mapping[str, Any] = SINGLE_READ
"""Execution options for work that is one INSERT, UPDATE or DELETE: on SQLite no ``BEGIN`` either
(a lone statement is its own transaction and takes the write lock itself)."""

_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE", "NONE"})

# Drivers the store is written and tested against; bare URLs are given these drivers.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL and give it the async driver: ``sqlite://`` -> ``sqlite+aiosqlite://``.

    ``postgres://`` (as many hosting providers write it) is accepted too. Other databases raise
    :class:`ConfigError`, as do other drivers for SQLite or PostgreSQL.
    """
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("EDITBOT_DATABASE_URL: not a database URL") from None
    backend = parsed.get_backend_name()
    wanted = _ASYNC_DRIVERS.get(backend)
    if wanted is None:
        raise ConfigError(
            f"EDITBOT_DATABASE_URL: unsupported database {backend!r}"
            " (use sqlite+aiosqlite or postgresql+asyncpg)"
        )
    if parsed.drivername == backend:
        return parsed.set(drivername=wanted)
    if parsed.drivername != wanted:
        raise ConfigError(f"EDITBOT_DATABASE_URL: use the {wanted} driver, not {parsed.drivername}")
    return parsed


def create_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    **engine_kw: Any,
) -> AsyncEngine:
    """An async engine for ``url`` with the settings described in this module's docstring.

    ``schema`` (PostgreSQL only) sets the connections' ``search_path``. ``engine_kw`` go to
    :func:`sqlalchemy.ext.asyncio.create_async_engine` and override the defaults here (for
    example ``poolclass=NullPool`` for a one-off command). The caller disposes the engine.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise ConfigError("a schema can only be chosen on PostgreSQL")
        # No rollback when a connection goes back to the pool: every transaction here ends in a
        # commit or a rollback already, and on aiosqlite each reset is one more trip through the
        # driver's thread (under a burst, each trip waits for a busy event loop).
        # One trip to aiosqlite's thread per statement instead of four (core.storage.sqlite_driver).
        connect_args = {"async_creator_fn": sqlite_driver.connect, **engine_kw.pop("connect_args", {})}
        engine = create_async_engine(
            parsed, **{"pool_reset_on_return": None, "connect_args": connect_args, **engine_kw}
        )
        _make_sqlite_safe(engine, sqlite_busy_timeout_ms)
        return engine

    server_settings = {"application_name": "editbot"}
    if schema is not None:
        server_settings["search_path"] = quote_identifier(schema)
    options: dict[str, Any] = {"connect_args": {"server_settings": server_settings}}
    if "poolclass" not in engine_kw:  # sizing options are only valid for the default queue pool
        options.update(
            pool_size=10,
            max_overflow=10,
            pool_timeout=30,
            # Drop connections the server or a proxy closed while idle, instead of failing a request.
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    options.update(engine_kw)
    return create_async_engine(parsed, **options)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory :class:`core.storage.sql_store.SqlStore` takes.

    ``expire_on_commit=False``: rows are turned into frozen dataclasses before the commit anyway,
    and nothing should lazily hit the database after it.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (for schema names in DDL and ``search_path``)."""
    return '"' + name.replace('"', '""') + '"'


def _switch_to_wal(cursor: Any, attempts: int = 100) -> None:
    """``PRAGMA journal_mode = WAL`` (answered 'memory' for :memory:), retried on a lock.

    On a new file still in rollback mode, the switch needs an exclusive lock while holding a
    shared one; when another connection holds RESERVED (two processes starting together), SQLite
    reports "database is locked" at once instead of waiting, to avoid a deadlock. Backing off lets
    the other connection finish; after that the file is in WAL mode for good.
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            # Connect events run in SQLAlchemy's greenlet on the event loop: wait without blocking it.
            await_only(asyncio.sleep(0.05))


def _make_sqlite_safe(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy's "begin" event emits BEGIN; the driver only for statements run on it (see the module).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another connection may hold.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _switch_to_wal(cursor)
            # NORMAL is durable across application crashes in WAL mode and much cheaper than FULL.
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()
        # From here on the driver begins BEGIN IMMEDIATE before a write outside a transaction
        # (never before a SELECT); transactions that begin explicitly are not affected.
        dbapi_connection.isolation_level = "IMMEDIATE"

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")).upper()
        if mode not in _BEGIN_MODES:
            raise ValueError(f"{BEGIN_OPTION} must be one of {sorted(_BEGIN_MODES)}, not {mode!r}")
        if mode != "NONE":
            connection.exec_driver_sql(f"BEGIN {mode}")
