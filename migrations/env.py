"""Alembic environment: async engines, batch mode on SQLite, target metadata from core.storage.tables.

Normally ``core.storage.migrate`` hands us a connection already inside a transaction
(``config.attributes["connection"]``); otherwise we make our own async engine from the
``sqlalchemy.url`` option or ``EDITBOT_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from core.storage.db import create_engine, normalize_url
from core.storage.tables import metadata

config = context.config


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from core.settings import CoreSettings, load

    return load(CoreSettings).database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # Our SQLite engine emits its own BEGIN, which makes DDL transactional there as well.
        transactional_ddl=True,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    url = normalize_url(_database_url())
    context.configure(
        url=url,
        target_metadata=metadata,
        render_as_batch=url.get_backend_name() == "sqlite",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    _run_on(shared)
else:
    asyncio.run(_run_online())
