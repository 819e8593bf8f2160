"""Migration 0002 on a database that already holds usage: nothing lost going up, nothing broken going down."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.storage import migrate
from tests.integration.db_fixtures import PERIOD, TestDatabase

ROW = {"scope_kind": "user", "scope_key": "telegram:u1", "period_start": PERIOD, "used": 3}


def _usage(name: str = "usage") -> sa.Table:
    """The usage table as 0001 made it (no bonus column)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("scope_kind", sa.String(16)),
        sa.Column("scope_key", sa.String(128)),
        sa.Column("period_start", sa.DateTime(timezone=True)),
        sa.Column("used", sa.Integer()),
    )


async def test_upgrade_keeps_usage_and_downgrade_keeps_its_check(empty_database: TestDatabase) -> None:
    engine = empty_database.engine
    await migrate.upgrade_engine(engine, "0001")
    async with engine.begin() as connection:
        await connection.execute(sa.insert(_usage()).values(**ROW))

    await migrate.upgrade_engine(engine, "0002")
    assert await migrate.engine_revision(engine) == "0002"
    async with engine.connect() as connection:
        row = (await connection.execute(sa.text("SELECT used, bonus FROM usage"))).one()
    assert tuple(row) == (3, 0)

    async with engine.begin() as connection:
        await connection.execute(sa.text("UPDATE usage SET bonus = 5"))
    await migrate.downgrade_engine(engine, "0001")
    assert await migrate.engine_revision(engine) == "0001"
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda c: [col["name"] for col in sa.inspect(c).get_columns("usage")]
        )
        tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        used = await connection.scalar(sa.text("SELECT used FROM usage"))
    assert "bonus" not in columns and used == 3
    assert not tables & {"quota_limits", "blocks", "audit_log"}

    # The table rebuilt on SQLite still refuses a negative counter.
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(sa.text("UPDATE usage SET used = -1"))

    await migrate.upgrade_engine(engine, "0002")
    assert await migrate.engine_revision(engine) == "0002"
