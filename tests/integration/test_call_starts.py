"""Call starts recorded in batches, on SQLite and PostgreSQL: jobs that reach their API call
together are stored in one statement, each under its own fencing token."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.call_starts import CallStarts
from core.storage.protocol import JobStage, LeaseLost
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import make_job, scopes
from tests.integration.test_statement_budget import counted


async def test_calls_that_start_together_are_one_statement_and_fenced(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlStore(sessionmaker)
    jobs = []
    for i in range(6):
        job, _ = await store.create_job(make_job(f"k{i}"), scopes())
        await store.mark_running(job.id, "w")
        jobs.append(job)
    lost = jobs[-1]
    assert await store.claim(lost.id, "other", lost.created_at.replace(year=2100)) is not None
    starts = CallStarts(store)
    with counted(sessionmaker) as seen:
        outcome = await asyncio.gather(*(starts.start(job.id, 1) for job in jobs), return_exceptions=True)
    assert outcome[:-1] == [None] * 5 and isinstance(outcome[-1], LeaseLost)
    assert len(seen) <= 2, seen  # the first call alone, then everyone who came meanwhile
    for job in jobs[:-1]:
        stored = await store.get_job(job.id)
        assert stored is not None and stored.stage is JobStage.CALLING and stored.attempts == 1
    taken = await store.get_job(lost.id)
    assert taken is not None and taken.attempts == 0  # the new owner's job was left alone


async def test_a_failed_write_fails_each_waiting_call(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    store = SqlStore(sessionmaker)

    async def broken(calls: object) -> dict[str, int]:
        raise ConnectionError("database gone")

    store.start_calls = broken  # type: ignore[method-assign]
    starts = CallStarts(store)
    with pytest.raises(ConnectionError):
        await starts.start("j1", None)
