"""Call starts recorded in batches, on SQLite and PostgreSQL: jobs that reach their API call
together are stored in one statement, each under its own fencing token."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.call_starts import CallStarts
from core.storage.protocol import CallStart, Job, JobStage, LeaseLost
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import make_job, scopes
from tests.integration.test_statement_budget import counted


async def running_jobs(store: SqlStore, count: int, prefix: str) -> list[Job]:
    """``count`` new jobs, each running under its first claim."""
    jobs = []
    for i in range(count):
        job, _ = await store.create_job(make_job(f"{prefix}{i}"), scopes(user=count))
        await store.mark_running(job.id, "w")
        jobs.append(job)
    return jobs


async def test_calls_that_start_together_are_one_statement_and_fenced(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlStore(sessionmaker)
    jobs = await running_jobs(store, 6, "k")
    lost = jobs[-1]
    assert await store.claim(lost.id, "other", lost.created_at.replace(year=2100)) is not None
    starts = CallStarts(store)
    with counted(sessionmaker) as seen:
        outcome = await asyncio.gather(
            *(starts.start(CallStart(job.id, 1)) for job in jobs), return_exceptions=True
        )
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
        await starts.start(CallStart("j1"))


async def test_status_messages_are_stored_with_the_call_starts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A status message on screen is stored with its job's call start (the paid call does not
    wait for a separate write); a job without one keeps the id it had."""
    store = SqlStore(sessionmaker)
    jobs = await running_jobs(store, 3, "s")
    await store.set_status_message(jobs[2].id, "old-status")
    starts = CallStarts(store)
    with counted(sessionmaker) as seen:
        await asyncio.gather(
            starts.start(CallStart(jobs[0].id, 1, "status-0")),
            starts.start(CallStart(jobs[1].id, 1, "status-1")),
            starts.start(CallStart(jobs[2].id, 1)),
        )
    assert len(seen) <= 2, seen
    stored = [await store.get_job(job.id) for job in jobs]
    assert [j.status_message if j else None for j in stored] == ["status-0", "status-1", "old-status"]
    assert all(j is not None and j.stage is JobStage.CALLING for j in stored)


async def test_a_big_batch_keeps_each_jobs_own_token_and_status_message(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlStore(sessionmaker)
    jobs = await running_jobs(store, 40, "b")  # more than one statement takes
    lost = jobs[7]
    assert await store.claim(lost.id, "other", lost.created_at.replace(year=2100)) is not None
    calls = [
        CallStart(job.id, None if i % 5 == 0 else 1, f"m{i}" if i % 2 else None) for i, job in enumerate(jobs)
    ]
    started = await store.start_calls(calls)
    assert set(started) == {job.id for job in jobs} - {lost.id}  # job 7 is another worker's now
    for i, job in enumerate(jobs):
        stored = await store.get_job(job.id)
        assert stored is not None
        if job is lost:
            assert (stored.attempts, stored.status_message) == (0, None)
            continue
        assert (stored.stage, stored.attempts, started[job.id]) == (JobStage.CALLING, 1, 1)
        assert stored.status_message == (f"m{i}" if i % 2 else None)
    # Unfenced calls (claim None) start even on a job claimed since; a shown message stays shown.
    again = await store.start_calls([CallStart(lost.id, None), CallStart(jobs[1].id, 1)])
    assert again == {lost.id: 1, jobs[1].id: 2}
    assert (await store.get_job(jobs[1].id)).status_message == "m1"  # type: ignore[union-attr]
