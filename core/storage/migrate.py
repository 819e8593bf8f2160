"""Schema migrations through Alembic's API, with the migrations shipped in the ``migrations`` package.

Two ways in:
- ``await upgrade_engine(engine)`` from async code (``editbot run`` start-up, tests): the
  migration runs on a connection of the application's own engine, so SQLite gets the same
  pragmas and BEGIN IMMEDIATE as everything else, and the whole upgrade is one transaction;
- ``upgrade(url)`` / ``downgrade(url, rev)`` / ``current(url)`` from synchronous code (the
  ``editbot db`` command); they run their own event loop, so never call them from a coroutine.

On PostgreSQL an advisory lock is held for the migration transaction, so several processes
starting at once migrate one after the other (the later ones find the schema at head).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from core.storage.db import create_engine

_T = TypeVar("_T")

# Any constant works; it only has to be the same in every editbot process.
_PG_MIGRATION_LOCK = 0x6564_6974_626F_74  # "editbot"


def migrations_path() -> Path:
    """The folder holding ``env.py`` and ``versions/`` (installed with the package)."""
    path = Path(str(files("migrations")))
    if not (path / "env.py").is_file():
        # Another top-level "migrations" package shadows ours (e.g. one in the current directory).
        raise RuntimeError(f"{path} is not editbot's migrations folder (no env.py)")
    return path


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file; ``env.py`` uses ``connection`` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this release."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the database behind ``engine`` to ``revision`` (``base`` removes every table)."""
    await _run(engine, lambda config: command.downgrade(config, revision))


async def engine_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def upgrade(database_url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Synchronous :func:`upgrade_engine` for a URL (for the command line)."""
    asyncio.run(_with_engine(database_url, schema, lambda engine: upgrade_engine(engine, revision)))


def downgrade(database_url: str, revision: str, *, schema: str | None = None) -> None:
    """Synchronous :func:`downgrade_engine` for a URL (for the command line)."""
    asyncio.run(_with_engine(database_url, schema, lambda engine: downgrade_engine(engine, revision)))


def current(database_url: str, *, schema: str | None = None) -> str | None:
    """Synchronous :func:`engine_revision` for a URL (for the command line)."""
    return asyncio.run(_with_engine(database_url, schema, engine_revision))


async def _run(engine: AsyncEngine, alembic_command: Callable[[Config], None]) -> None:
    def in_transaction(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        alembic_command(alembic_config(connection))

    # engine.begin(): env.py sees a connection already in a transaction and leaves it to us, so
    # the whole upgrade commits or rolls back as one (DDL is transactional on both databases).
    async with engine.begin() as connection:
        await connection.run_sync(in_transaction)


async def _with_engine(
    database_url: str, schema: str | None, action: Callable[[AsyncEngine], Awaitable[_T]]
) -> _T:
    engine = create_engine(database_url, schema=schema, poolclass=NullPool)
    try:
        return await action(engine)
    finally:
        await engine.dispose()
