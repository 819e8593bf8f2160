"""Crash-safety storage on SQLite and PostgreSQL: job stages, kept results, recorded deliveries,
claims of stale jobs, hand-backs, and the update inbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.actions import DeliveredPart
from core.storage.protocol import JobStage, JobStatus, LeaseLost, StoredUpdate
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import FakeClock, image, make_job, scopes


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_store(sessionmaker: async_sessionmaker[AsyncSession], clock: FakeClock) -> SqlStore:
    """A store whose clock the test moves."""
    return SqlStore(sessionmaker, clock=clock)


async def test_a_job_records_its_steps_and_drops_its_result_when_it_ends(timed_store: SqlStore) -> None:
    store = timed_store
    job, _ = await store.create_job(make_job("k1"), scopes())
    await store.mark_running(job.id, "w1")
    assert await store.start_call(job.id, "w1") == 1
    await store.save_result(job.id, [b"one", b"two"], usage_tokens=30, estimated_cost=0.25)
    await store.set_status_message(job.id, "77")
    part = DeliveredPart("photo", 0, "78", (image("r1"),))
    await store.record_delivery(job.id, part)
    got = await store.get_job(job.id)
    assert got is not None and got.stage is JobStage.DELIVERING and got.attempts == 1
    assert got.delivery == (part,) and got.status_message == "77" and got.usage_tokens == 30
    assert await store.job_result(job.id) == [b"one", b"two"]
    assert await store.succeed(job.id, credits=1, usage_tokens=30, estimated_cost=0.25, result_refs=part.refs)
    assert await store.job_result(job.id) == []  # finished: its images wait only for the sweep
    assert await store.drop_finished_results() == 2
    assert await store.drop_finished_results() == 0


async def test_a_stale_job_is_claimed_by_one_process_and_a_released_one_at_once(
    timed_store: SqlStore, clock: FakeClock
) -> None:
    store = timed_store
    job, _ = await store.create_job(make_job("k2"), scopes())
    await store.mark_running(job.id, "dead")
    assert await store.claim(job.id, "w2", clock.now - timedelta(seconds=90)) is None  # still beating
    clock.now += timedelta(seconds=91)
    cutoff = clock.now - timedelta(seconds=90)
    claims = await asyncio.gather(*(store.claim(job.id, f"w{i}", cutoff) for i in range(5)))
    (winner,) = [c for c in claims if c is not None]
    assert winner.status is JobStatus.RUNNING and winner.worker_id in {f"w{i}" for i in range(5)}

    await store.release(job.id, winner.worker_id or "")
    again = await store.claim(job.id, "next", clock.now - timedelta(seconds=90))
    assert again is not None and again.worker_id == "next"  # no staleness wait after a hand-back


async def test_the_inbox_skips_redeliveries_and_replays_what_a_dead_worker_left(
    timed_store: SqlStore, clock: FakeClock
) -> None:
    store = timed_store
    update = StoredUpdate("telegram", "100", {"update_id": 100})
    assert await store.inbox_put([update], "dead") == {"100"}
    assert await store.inbox_put([update], "alive") == set()  # delivered again: skipped
    batch = [StoredUpdate("telegram", i, {"update_id": int(i)}) for i in ("99", "100", "101")]
    assert await store.inbox_put(batch, "dead") == {"99", "101"}  # one transaction, the new ones
    await store.inbox_done("telegram", ["101"])
    assert await store.inbox_claim("telegram", clock.now - timedelta(seconds=90), "alive") == []
    clock.now += timedelta(seconds=91)
    cutoff = clock.now - timedelta(seconds=90)
    replayed = await store.inbox_claim("telegram", cutoff, "alive")
    assert [u.update_id for u in replayed] == ["99", "100"]  # oldest first, the handled one not
    assert await store.inbox_claim("telegram", cutoff, "other") == []  # claimed just now
    assert await store.inbox_put([StoredUpdate("telegram", "101", {})], "alive") == set()  # kept a day
    clock.now += timedelta(days=2)
    await store.inbox_claim("telegram", clock.now, "x")
    assert await store.inbox_put([StoredUpdate("telegram", "101", {})], "alive") == {"101"}  # forgotten


async def test_a_big_inbox_batch_is_stored_and_marked_handled_whole(
    timed_store: SqlStore, clock: FakeClock
) -> None:
    store = timed_store
    assert await store.inbox_put([StoredUpdate("telegram", "5", {"update_id": 5})], "w") == {"5"}
    ids = [str(i) for i in range(1, 41)]  # more than one statement takes
    batch = [
        StoredUpdate(
            "telegram", i, {"update_id": int(i)}, conversation=f"c{i}", media_group="g" if i == "7" else None
        )
        for i in ids
    ]
    assert await store.inbox_put(batch, "w") == set(ids) - {"5"}
    await store.inbox_done("telegram", [i for i in ids if i != "33"])
    clock.now += timedelta(seconds=91)
    left = await store.inbox_claim("telegram", clock.now - timedelta(seconds=90), "next")
    assert [(u.update_id, dict(u.payload)) for u in left] == [("33", {"update_id": 33})]


async def test_a_worker_fenced_out_by_a_takeover_writes_nothing(
    timed_store: SqlStore, clock: FakeClock
) -> None:
    store = timed_store
    job, _ = await store.create_job(make_job("k-fence"), scopes())
    await store.mark_running(job.id, "stalled")
    mine = await store.get_job(job.id)
    assert mine is not None and mine.claim == 1
    assert await store.start_call(job.id, "stalled", claim=1) == 1
    clock.now += timedelta(seconds=91)
    taken = await store.claim(job.id, "taker", clock.now - timedelta(seconds=90))
    assert taken is not None and taken.claim == 2
    # Every write of the stalled worker under its old token is refused, and changes nothing.
    with pytest.raises(LeaseLost):
        await store.save_result(job.id, [b"late"], usage_tokens=1, estimated_cost=None, claim=1)
    with pytest.raises(LeaseLost):
        await store.record_delivery(job.id, DeliveredPart("photo", 0, "9"), claim=1)
    with pytest.raises(LeaseLost):
        await store.set_status_message(job.id, "9", claim=1)
    with pytest.raises(LeaseLost):
        await store.renew(job.id, 1)
    assert not await store.succeed(
        job.id, credits=1, usage_tokens=1, estimated_cost=None, result_refs=(), claim=1
    )
    assert not await store.fail(job.id, error_kind="internal", claim=1)
    assert await store.job_result(job.id) == []
    # The taker's token holds.
    await store.renew(job.id, 2)
    await store.save_result(job.id, [b"ok"], usage_tokens=1, estimated_cost=None, claim=2)
    assert await store.succeed(
        job.id, credits=1, usage_tokens=1, estimated_cost=None, result_refs=(), claim=2
    )
    done = await store.get_job(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.stage is JobStage.ANSWERED
    assert (await store.usage("user", "telegram:u1", job.period_start)).used == 1


async def test_cancel_refunds_the_user_s_unanswered_jobs_and_fences_their_worker(
    timed_store: SqlStore,
) -> None:
    store = timed_store
    waiting, _ = await store.create_job(make_job("k-wait"), scopes())
    running, _ = await store.create_job(make_job("k-run"), scopes())
    answered, _ = await store.create_job(make_job("k-done"), scopes())
    other, _ = await store.create_job(make_job("k-other", user_id="u2"), scopes(user_id="u2"))
    await store.mark_running(running.id, "w")
    await store.mark_running(answered.id, "w")
    await store.save_result(answered.id, [b"shown"], usage_tokens=None, estimated_cost=None, claim=1)
    cancelled = await store.cancel_unanswered("telegram", "u1")
    assert {j.id for j in cancelled} == {waiting.id, running.id}
    assert all(j.status is JobStatus.CANCELLED for j in cancelled)
    with pytest.raises(LeaseLost):
        await store.start_call(running.id, "w", claim=1)
    assert (await store.usage("user", "telegram:u1", waiting.period_start)).used == 1  # the answered one
    assert await store.cancel_unanswered("telegram", "u1") == []  # refunded once
    still = await store.get_job(other.id)
    assert still is not None and still.status is JobStatus.QUEUED
