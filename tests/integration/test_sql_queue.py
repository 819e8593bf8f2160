"""The shared job queue on PostgreSQL: SKIP LOCKED claims, fairness across communities, FIFO per
user, positions that agree with the claims, leases taken over, and NOTIFY wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.storage.db import create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.protocol import Job, JobStatus, QuotaScope
from core.storage.sql_queue import SqlQueue
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import FakeClock, TestDatabase, make_job
from tests.polling import eventually

pytestmark = pytest.mark.postgres

STALE = timedelta(seconds=90)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue_db(postgres_database: TestDatabase) -> AsyncIterator[TestDatabase]:
    await upgrade_engine(postgres_database.engine)
    yield postgres_database


@pytest.fixture
def store(queue_db: TestDatabase, clock: FakeClock) -> SqlStore:
    return SqlStore(create_sessionmaker(queue_db.engine), clock=clock)


@pytest.fixture
def queue(queue_db: TestDatabase, clock: FakeClock) -> SqlQueue:
    return SqlQueue(queue_db.engine, create_sessionmaker(queue_db.engine), clock=clock)


async def enqueue(store: SqlStore, clock: FakeClock, name: str, *, community: str | None, user: str) -> Job:
    """A queued job of ``user`` in ``community`` (None: a private chat), one second after the last."""
    clock.advance(1)
    limits = (QuotaScope("user", f"telegram:{user}", None),)
    job, created = await store.create_job(
        make_job(name, user_id=user, community_id=community, prompt=name), limits
    )
    assert created
    return job


async def claim_prompts(queue: SqlQueue, clock: FakeClock, worker: str, n: int) -> list[str]:
    claimed = await queue.claim(worker, n, clock.now - STALE)
    return [job.prompt for job, _ in claimed]


async def test_claims_take_turns_across_communities_and_keep_each_users_order(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    # A busy server floods the queue first; a second server and a private chat come after.
    for i in range(5):
        await enqueue(store, clock, f"busy-{i}", community="busy", user=f"b{i}")
    await enqueue(store, clock, "quiet-0", community="quiet", user="q0")
    await enqueue(store, clock, "dm-0", community=None, user="d0")
    await enqueue(store, clock, "quiet-1", community="quiet", user="q1")
    expected = ["busy-0", "quiet-0", "dm-0", "busy-1", "quiet-1", "busy-2", "busy-3", "busy-4"]
    positions = {
        job.prompt: await queue.position(job.id, clock.now - STALE)
        for job in [await store.job_by_key(k) for k in expected]
        if job is not None
    }
    assert [p for _, p in sorted(positions.items(), key=lambda kv: kv[1] or 0)] == list(range(1, 9))
    assert sorted(positions, key=lambda k: positions[k] or 0) == expected
    assert await claim_prompts(queue, clock, "w1", 3) == expected[:3]
    assert await claim_prompts(queue, clock, "w2", 2) == ["busy-1", "quiet-1"]
    # Running jobs count as turns of their lane: a newcomer goes before the busy server's third.
    await enqueue(store, clock, "late-0", community="late", user="l0")
    assert await claim_prompts(queue, clock, "w2", 10) == ["late-0", "busy-2", "busy-3", "busy-4"]
    assert await claim_prompts(queue, clock, "w3", 10) == []
    running = await store.get_job((await store.job_by_key("dm-0") or make_job("x")).id)
    assert running is not None and running.status is JobStatus.RUNNING and running.worker_id == "w1"
    assert await queue.position(running.id, clock.now - STALE) is None


async def test_concurrent_claims_never_take_the_same_job(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    for i in range(40):
        await enqueue(store, clock, f"job-{i}", community=f"g{i % 7}", user=f"u{i}")
    results = await asyncio.gather(*(queue.claim(f"w{n}", 3, clock.now - STALE) for n in range(16)))
    ids = [job.id for claimed in results for job, _ in claimed]
    assert len(ids) == len(set(ids)) == 40  # each job to exactly one worker, none left behind
    assert all(len(claimed) <= 3 for claimed in results)
    owners = {job.id: job.worker_id for claimed in results for job, _ in claimed}
    assert all(owners[job.id] == f"w{n}" for n, claimed in enumerate(results) for job, _ in claimed)


async def test_an_expired_lease_is_taken_over_with_its_previous_worker(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    job = await enqueue(store, clock, "leased", community="g", user="u")
    [(claimed, previous)] = await queue.claim("w1", 5, clock.now - STALE)
    assert claimed.id == job.id and previous is None
    clock.advance(30)
    await store.heartbeat([job.id], "w1")
    clock.advance(60)
    assert await queue.claim("w2", 5, clock.now - STALE) == []  # the lease is alive
    clock.advance(31)  # w1 died: no heartbeat for 91 s
    assert await queue.position(job.id, clock.now - STALE) == 1
    [(taken, previous)] = await queue.claim("w2", 5, clock.now - STALE)
    assert (taken.id, taken.worker_id, previous) == (job.id, "w2", "w1")
    await store.release(job.id, "w2")  # a stop hands it back: claimable at once
    [(again, previous)] = await queue.claim("w3", 5, clock.now - STALE)
    assert again.id == job.id and previous is None


async def test_a_new_job_wakes_a_listening_worker(queue_db: TestDatabase, queue: SqlQueue) -> None:
    wake = asyncio.Event()
    async with queue.listening(wake):
        await eventually(wake.is_set)  # set once the listener is connected
        wake.clear()
        await queue.notify()
        await eventually(wake.is_set)


async def test_one_slot_still_serves_lanes_in_turn(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    """With one job at a time, the lane served longest ago goes next: not plain FIFO."""
    for i in range(3):
        await enqueue(store, clock, f"busy-{i}", community="busy", user=f"b{i}")
    await enqueue(store, clock, "quiet-0", community="quiet", user="q0")
    order = []
    for _ in range(4):
        clock.advance(1)
        [(job, _)] = await queue.claim("w1", 1, clock.now - STALE)
        order.append(job.prompt)
        assert await store.succeed(job.id, credits=1, usage_tokens=None, estimated_cost=None, result_refs=())
    assert order == ["busy-0", "quiet-0", "busy-1", "busy-2"]


async def test_each_change_of_a_place_in_line_is_reported_once_with_the_newest_number(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    jobs = [await enqueue(store, clock, f"p{i}", community=None, user=f"u{i}") for i in range(3)]
    for job in jobs:
        assert await queue.position(job.id, clock.now - STALE) is not None  # shown by the gateway
        await store.set_status_message(job.id, f"m-{job.prompt}")
    assert await queue.moved(clock.now - STALE) == []  # nothing moved yet
    [(first, _)] = await queue.claim("w1", 1, clock.now - STALE)
    assert first.id == jobs[0].id and first.claim == 1
    # Concurrent refreshes: each change goes to exactly one of them.
    reports = await asyncio.gather(*(queue.moved(clock.now - STALE) for _ in range(4)))
    moved = [m for report in reports for m in report]
    assert sorted((m.status_message, m.position) for m in moved) == [("m-p1", 1), ("m-p2", 2)]
    for job, position, current in [(jobs[0], 1, False), (jobs[1], 1, True), (jobs[2], 3, False)]:
        async with queue.showing(job.id, position) as still:
            assert still is current, (job.prompt, position)  # running / the newest / an older number


async def test_one_process_at_a_time_shows_a_jobs_place_and_an_older_number_is_dropped(
    store: SqlStore, queue: SqlQueue, clock: FakeClock
) -> None:
    jobs = [await enqueue(store, clock, f"p{i}", community=None, user=f"u{i}") for i in range(3)]
    for job in jobs:
        await queue.position(job.id, clock.now - STALE)
        await store.set_status_message(job.id, f"m-{job.prompt}")
    await queue.claim("w1", 1, clock.now - STALE)
    [older] = [m for m in await queue.moved(clock.now - STALE) if m.job_id == jobs[2].id]
    assert older.position == 2
    entered = asyncio.Event()

    async def second_process() -> bool:
        # Another process claimed the next change of the same job while the first one was showing.
        [newer] = [m for m in await queue.moved(clock.now - STALE) if m.job_id == jobs[2].id]
        async with queue.showing(jobs[2].id, newer.position) as current:
            entered.set()
            return current

    async with queue.showing(jobs[2].id, older.position) as current:
        assert current
        await queue.claim("w2", 1, clock.now - STALE)
        other = asyncio.create_task(second_process())
        await asyncio.sleep(0.3)
        assert not entered.is_set()  # waits until the first process's number is out
    assert await other  # then shows the newer number
    async with queue.showing(jobs[2].id, older.position) as current:
        assert not current  # and the older one, were it still on its way, would be dropped
