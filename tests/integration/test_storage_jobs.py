"""Jobs in the SQL store: creation, idempotency, life cycle, heartbeats and stale jobs."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.protocol import JobStatus, QuotaScope
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import PERIOD, FakeClock, image, make_job, scopes


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_store(sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock) -> SqlStore:
    """A store whose clock the test moves."""
    return SqlStore(sessionmaker, clock=clock)


async def test_create_and_get_round_trip(timed_store: SqlStore, clock: FakeClock) -> None:
    job = make_job("tg:1:100", credits=2)
    created, is_new = await timed_store.create_job(job, scopes())
    assert is_new
    assert created == replace(job, created_at=clock.now, heartbeat_at=clock.now)
    assert await timed_store.get_job(job.id) == created
    assert await timed_store.get_job("missing") is None


async def test_job_without_mask_or_community(store: SqlStore) -> None:
    job = make_job("k", mask=None, community_id=None, images=(image("only"),), origin={})
    created, _ = await store.create_job(job, scopes(community=None))
    got = await store.get_job(job.id)
    assert got == created
    assert got is not None and got.mask is None and got.community_id is None
    assert got.created_at is not None and got.created_at.tzinfo is not None


async def test_same_key_twice_returns_the_first_and_charges_once(store: SqlStore) -> None:
    first, created = await store.create_job(make_job("dup", credits=3), scopes())
    again, created_again = await store.create_job(make_job("dup", credits=3, prompt="other"), scopes())
    assert created and not created_again
    assert again == first
    assert (await store.usage("user", "telegram:u1", PERIOD)).used == 3
    assert (await store.usage("community", "telegram:g1", PERIOD)).used == 3


async def test_concurrent_creates_with_one_key_charge_once(store: SqlStore) -> None:
    jobs = [make_job("redelivered", credits=2) for _ in range(20)]
    results = await asyncio.gather(*(store.create_job(job, scopes()) for job in jobs))
    winners = [job for job, created in results if created]
    assert len(winners) == 1
    assert {job.id for job, _ in results} == {winners[0].id}
    assert (await store.usage("user", "telegram:u1", PERIOD)).used == 2
    assert (await store.usage("community", "telegram:g1", PERIOD)).used == 2


async def test_create_rejects_nonsense(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="negative"):
        await store.create_job(make_job("a", credits=-1), scopes())
    with pytest.raises(ValueError, match="QUEUED"):
        await store.create_job(make_job("b", status=JobStatus.RUNNING), scopes())
    twice = (QuotaScope("user", "telegram:u1", 5), QuotaScope("user", "telegram:u1", 9))
    with pytest.raises(ValueError, match="twice"):
        await store.create_job(make_job("c"), twice)
    assert (await store.usage("user", "telegram:u1", PERIOD)).used == 0


async def test_mark_running_only_from_queued(timed_store: SqlStore, clock: FakeClock) -> None:
    job, _ = await timed_store.create_job(make_job("k"), scopes())
    started = clock.advance(1)
    assert await timed_store.mark_running(job.id, "worker-a")
    assert not await timed_store.mark_running(job.id, "worker-b")
    assert not await timed_store.mark_running("missing", "worker-a")
    got = await timed_store.get_job(job.id)
    assert got is not None
    assert (got.status, got.worker_id, got.started_at, got.heartbeat_at) == (
        JobStatus.RUNNING,
        "worker-a",
        started,
        started,
    )


async def test_heartbeat_touches_only_the_workers_running_jobs(
    timed_store: SqlStore, clock: FakeClock
) -> None:
    mine, _ = await timed_store.create_job(make_job("mine"), scopes())
    theirs, _ = await timed_store.create_job(make_job("theirs", user_id="u2"), scopes(user_id="u2"))
    queued, _ = await timed_store.create_job(make_job("queued", user_id="u3"), scopes(user_id="u3"))
    await timed_store.mark_running(mine.id, "a")
    await timed_store.mark_running(theirs.id, "b")
    before = clock.now
    beat = clock.advance(20)
    await timed_store.heartbeat([mine.id, theirs.id, queued.id, "missing"], "a")
    await timed_store.heartbeat([], "a")
    assert (await timed_store.get_job(mine.id)).heartbeat_at == beat  # type: ignore[union-attr]
    assert (await timed_store.get_job(theirs.id)).heartbeat_at == before  # type: ignore[union-attr]
    assert (await timed_store.get_job(queued.id)).heartbeat_at == before  # type: ignore[union-attr]


async def test_stale_jobs_by_heartbeat(timed_store: SqlStore, clock: FakeClock) -> None:
    t0 = clock.now
    never_started, _ = await timed_store.create_job(make_job("never", user_id="u1"), scopes(user_id="u1"))
    silent, _ = await timed_store.create_job(make_job("silent", user_id="u2"), scopes(user_id="u2"))
    await timed_store.mark_running(silent.id, "w")
    alive, _ = await timed_store.create_job(make_job("alive", user_id="u3"), scopes(user_id="u3"))
    await timed_store.mark_running(alive.id, "w")
    done, _ = await timed_store.create_job(make_job("done", user_id="u4"), scopes(user_id="u4"))
    await timed_store.fail(done.id, error_kind="api_timeout")

    clock.advance(100)
    await timed_store.heartbeat([alive.id], "w")

    stale = await timed_store.stale_jobs(t0 + (clock.now - t0) / 2)
    assert {job.id for job in stale} == {never_started.id, silent.id}
    assert {job.status for job in stale} == {JobStatus.QUEUED, JobStatus.RUNNING}
    assert await timed_store.stale_jobs(t0) == []
    assert {job.id for job in await timed_store.stale_jobs(clock.advance(1))} == {
        never_started.id,
        silent.id,
        alive.id,
    }


async def test_active_jobs(store: SqlStore) -> None:
    queued, _ = await store.create_job(make_job("q"), scopes())
    running, _ = await store.create_job(make_job("r"), scopes())
    await store.mark_running(running.id, "w")
    finished, _ = await store.create_job(make_job("f"), scopes())
    await store.succeed(finished.id, credits=1, usage_tokens=None, estimated_cost=None, result_refs=())
    await store.create_job(make_job("other", user_id="u9"), scopes(user_id="u9"))
    active = await store.active_jobs("telegram", "u1")
    assert {job.id for job in active} == {queued.id, running.id}
    assert await store.active_jobs("discord", "u1") == []


async def test_succeed_records_the_result(store: SqlStore) -> None:
    job, _ = await store.create_job(make_job("k", credits=2), scopes())
    results = (image("out-1"), image("out-2", platform=job.images[0].platform))
    assert await store.succeed(
        job.id, credits=2, usage_tokens=4160, estimated_cost=0.042, result_refs=results
    )
    got = await store.get_job(job.id)
    assert got is not None
    assert (got.status, got.credits, got.usage_tokens, got.estimated_cost, got.result_refs) == (
        JobStatus.SUCCEEDED,
        2,
        4160,
        0.042,
        results,
    )
    assert got.finished_at is not None and got.finished_at.tzinfo is not None
    assert not await store.succeed(job.id, credits=2, usage_tokens=None, estimated_cost=None, result_refs=())
    assert not await store.succeed(
        "missing", credits=1, usage_tokens=None, estimated_cost=None, result_refs=()
    )


async def test_fail_and_cancel_record_the_reason(store: SqlStore) -> None:
    failed, _ = await store.create_job(make_job("f"), scopes())
    cancelled, _ = await store.create_job(make_job("c"), scopes())
    assert await store.fail(failed.id, error_kind="content_refused")
    assert await store.fail(cancelled.id, error_kind="cancelled", status=JobStatus.CANCELLED)
    got_failed, got_cancelled = await store.get_job(failed.id), await store.get_job(cancelled.id)
    assert got_failed is not None and got_cancelled is not None
    assert (got_failed.status, got_failed.error_kind) == (JobStatus.FAILED, "content_refused")
    assert (got_cancelled.status, got_cancelled.error_kind) == (JobStatus.CANCELLED, "cancelled")
    assert not await store.fail("missing", error_kind="x")
    with pytest.raises(ValueError, match="failed or cancelled"):
        await store.fail(failed.id, error_kind="x", status=JobStatus.SUCCEEDED)
