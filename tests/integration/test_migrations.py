"""Migrations: they build exactly the schema tables.py describes, and go down and up again cleanly."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bots.commands import db as db_command
from core.storage import migrate
from core.storage.tables import metadata
from tests.integration.db_fixtures import TestDatabase, run_in_thread

APP_TABLES = {
    "conversations",
    "jobs",
    "usage",
    "preferences",
    "quota_limits",
    "blocks",
    "audit_log",
    "owner_alerts",
    "job_results",
    "rate_budgets",
    "inbox",
    "painter_drawings",  # issue 15
    "painter_nonces",
    "full_size_results",  # issue 11
}
HEAD = "0008_full_size"
BEFORE_HEAD = "0007_fencing"  # what `editbot db downgrade` (one step) leaves


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _tables_of(database: TestDatabase) -> set[str]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_tables)


def test_migrations_ship_as_package_data() -> None:
    folder = migrate.migrations_path()
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert (folder / "versions" / "0001_initial.py").is_file()
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [HEAD] == [migrate.head_revision()]


async def test_upgrade_down_to_base_and_up_again(empty_database: TestDatabase) -> None:
    engine = empty_database.engine
    assert await migrate.engine_revision(engine) is None

    await migrate.upgrade_engine(engine)
    assert await migrate.engine_revision(engine) == HEAD
    assert await _tables_of(empty_database) == APP_TABLES | {"alembic_version"}
    await migrate.upgrade_engine(engine)  # already at head: nothing to do

    await migrate.downgrade_engine(engine, "base")
    assert await migrate.engine_revision(engine) is None
    assert await _tables_of(empty_database) <= {"alembic_version"}

    await migrate.upgrade_engine(engine)
    assert await migrate.engine_revision(engine) == HEAD
    assert await _tables_of(empty_database) == APP_TABLES | {"alembic_version"}


async def test_migrated_schema_matches_tables_py(database: TestDatabase) -> None:
    async with database.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == []


async def test_diff_would_notice_a_drift(database: TestDatabase) -> None:
    """The comparison above is not vacuous: a column the migrations lack is reported."""
    drifted = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    sa.Table("usage", drifted, sa.Column("note", sa.Text()), extend_existing=True)

    def diff(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), drifted))

    async with database.engine.connect() as connection:
        found = await connection.run_sync(diff)
    assert [(d[0], d[3].name) for d in found] == [("add_column", "note")]


async def test_concurrent_upgrades_serialise(empty_database: TestDatabase) -> None:
    """Several processes starting at once: one migrates, the others find the schema at head."""
    engines = [empty_database.new_engine() for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade_engine(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert await migrate.engine_revision(empty_database.engine) == HEAD


async def test_synchronous_api_for_the_command_line(empty_database: TestDatabase) -> None:
    url, schema = empty_database.url, empty_database.schema
    assert run_in_thread(lambda: migrate.current(url, schema=schema)) is None
    run_in_thread(lambda: migrate.upgrade(url, schema=schema))
    assert run_in_thread(lambda: migrate.current(url, schema=schema)) == HEAD
    run_in_thread(lambda: migrate.downgrade(url, "base", schema=schema))
    assert await migrate.engine_revision(empty_database.engine) is None


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    db_command.configure(parser)
    return db_command.run(parser.parse_args(list(argv)))


def test_db_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("EDITBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    assert _cli("current") == 0
    assert f"revision none (empty) (newest is {HEAD})" in capsys.readouterr().out
    assert _cli("upgrade") == 0
    assert f"revision {HEAD} (up to date)" in capsys.readouterr().out
    assert _cli("downgrade") == 0
    assert f"revision {BEFORE_HEAD} (newest is {HEAD})" in capsys.readouterr().out
    assert _cli("downgrade", "base") == 0
    assert "revision none (empty)" in capsys.readouterr().out
    assert _cli("upgrade", "0001") == 0
    capsys.readouterr()

    assert _cli("downgrade", "nonsense") == 1
    assert "Can't locate revision" in capsys.readouterr().err


def test_db_command_reports_an_unreachable_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDITBOT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    assert _cli("current") == 1
    assert "editbot db current:" in capsys.readouterr().err
