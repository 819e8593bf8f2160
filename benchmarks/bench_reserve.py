"""Quota reservations per second, with no overshoot, on SQLite and PostgreSQL.

Workload: ``--tasks`` concurrent reservers (as many users of one community at once) each create jobs
that draw 1 credit from three counters (member, community, global) until ``--jobs`` have been
tried; the global limit lets only 80 % of them through. Each variant runs on a fresh migrated
database. Baseline, in the same run: the statement sequence editbot used before issue 11 (per
counter: create-if-missing, then a conditional UPDATE, in a transaction). editbot today: on SQLite
the job row and one statement for every counter, in a transaction; on PostgreSQL one statement in
autocommit (``core.storage.sql_reserve``). Printed: reservations per second, statements
per reservation, and the check that exactly the limit was charged (no overshoot, no shortfall).

    .venv/bin/python -m benchmarks.bench_reserve [--jobs 2000] [--tasks 16] [--postgres URL | --no-postgres]

PostgreSQL runs in its own schema (dropped afterwards) at 127.0.0.1:5432, database ``test``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core import errors
from core.storage.db import create_engine, create_sessionmaker, quote_identifier
from core.storage.direct import Direct
from core.storage.migrate import upgrade_engine
from core.storage.protocol import QuotaScope
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import make_job

PERIOD = datetime(2026, 11, 1, tzinfo=UTC)


class BaselineStore(SqlStore):
    """The reservation as it was: two statements per counter, in a transaction (on PostgreSQL too)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._one_trip = None

    async def _reserve_all(
        self, direct: Direct, ordered: list[QuotaScope], credits: int, period: datetime
    ) -> None:
        for scope in ordered:
            await self._reserve(direct, scope, credits, period)


@dataclass
class Outcome:
    """One variant's run."""

    seconds: float
    charged: int
    refused: int
    statements: int
    global_used: int


async def run(engine: AsyncEngine, make: Callable[..., SqlStore], jobs: int, tasks: int) -> Outcome:
    store = make(create_sessionmaker(engine))
    limit = jobs * 4 // 5
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    todo = iter(range(jobs))
    charged = refused = 0

    async def worker() -> None:
        nonlocal charged, refused
        for n in todo:
            user = f"u{n % 500}"
            scopes = (
                QuotaScope("member", f"telegram:g1:{user}", 10_000),
                QuotaScope("community", "telegram:g1", 1_000_000),
                QuotaScope("global", "all", limit),
            )
            job = make_job(uuid.uuid4().hex, user_id=user, period_start=PERIOD)
            try:
                await store.create_job(job, scopes)
                charged += 1
            except errors.QuotaExceeded:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    seconds = time.perf_counter() - started
    sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
    async with engine.connect() as conn:
        used = await conn.scalar(sa.text("SELECT used FROM usage WHERE scope_kind = 'global'"))
    return Outcome(seconds, charged, refused, statements, int(used or 0))


async def on_sqlite(make: Callable[..., SqlStore], jobs: int, tasks: int) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            await upgrade_engine(engine)
            return await run(engine, make, jobs, tasks)
        finally:
            await engine.dispose()


async def on_postgres(url: str, make: Callable[..., SqlStore], jobs: int, tasks: int) -> Outcome:
    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {quote_identifier(schema)}"))
    engine = create_engine(url, schema=schema)
    try:
        await upgrade_engine(engine)
        return await run(engine, make, jobs, tasks)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {quote_identifier(schema)} CASCADE"))
        await admin.dispose()


def report(name: str, base: Outcome, new: Outcome, jobs: int) -> None:
    limit = jobs * 4 // 5
    print(f"\n{name}: {jobs} reservations tried, global limit {limit}")
    print(f"{'variant':<34}{'per s':>9}{'stmts/res':>11}{'charged':>9}{'global used':>13}")
    for label, o in (("baseline: 2 statements per counter", base), ("editbot: one statement", new)):
        per_s = jobs / o.seconds
        print(f"{label:<34}{per_s:>9.0f}{o.statements / jobs:>11.2f}{o.charged:>9}{o.global_used:>13}")
        assert o.charged == limit == o.global_used, "overshoot or shortfall"
    print(f"speed-up (editbot/baseline): {base.seconds / new.seconds:.2f}x; no overshoot in either")


async def main(jobs: int, tasks: int, postgres: str | None) -> None:
    base = await on_sqlite(BaselineStore, jobs, tasks)
    new = await on_sqlite(SqlStore, jobs, tasks)
    report("SQLite", base, new, jobs)
    if postgres:
        base = await on_postgres(postgres, BaselineStore, jobs, tasks)
        new = await on_postgres(postgres, SqlStore, jobs, tasks)
        report("PostgreSQL", base, new, jobs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    ns = parser.parse_args()
    asyncio.run(main(ns.jobs, ns.tasks, None if ns.no_postgres else ns.postgres))
