"""Quota reservations, commits and refunds in the SQL store, including under concurrency."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import QuotaExceeded
from core.storage import tables
from core.storage.protocol import JobStatus, QuotaScope
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import PERIOD, make_job, scopes

USER = ("user", "telegram:u1")
COMMUNITY = ("community", "telegram:g1")


async def used(store: SqlStore, scope: tuple[str, str], period: object = PERIOD) -> int:
    return (await store.usage(scope[0], scope[1], period)).used  # type: ignore[arg-type]


async def test_500_concurrent_reservations_never_exceed_the_limit(store: SqlStore) -> None:
    jobs = [make_job(f"event-{i}", user_id="u1", community_id=None) for i in range(500)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(store.create_job(job, scopes(user=100, community=None)) for job in jobs), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(created) == 100 and all(is_new for _, is_new in created)
    assert len(refused) == 400, [r for r in results if not isinstance(r, tuple | QuotaExceeded)][:3]
    assert all(r.details == {"scope": "user", "used": 100, "limit": 100} for r in refused)
    assert await used(store, USER) == 100
    assert len(await store.active_jobs("telegram", "u1")) == 100
    assert elapsed < 30, f"500 reservations took {elapsed:.1f}s"


async def test_community_limit_refuses_and_charges_nobody(store: SqlStore) -> None:
    for i in range(2):
        await store.create_job(make_job(f"ok-{i}"), scopes(user=10, community=2))
    refused = make_job("third")
    with pytest.raises(QuotaExceeded) as info:
        await store.create_job(refused, scopes(user=10, community=2))
    assert info.value.details == {"scope": "community", "used": 2, "limit": 2}
    assert (await used(store, USER), await used(store, COMMUNITY)) == (2, 2)
    assert await store.get_job(refused.id) is None
    # Nothing was left behind by the refusal: the key is free for a later attempt.
    _, created = await store.create_job(replace(refused, id="retry"), scopes(user=10, community=3))
    assert created


async def test_user_limit_refuses_and_charges_nobody(store: SqlStore) -> None:
    await store.create_job(make_job("first"), scopes(user=1, community=100))
    refused = make_job("second")
    with pytest.raises(QuotaExceeded) as info:
        await store.create_job(refused, scopes(user=1, community=100))
    assert info.value.details == {"scope": "user", "used": 1, "limit": 1}
    assert (await used(store, USER), await used(store, COMMUNITY)) == (1, 1)
    assert await store.get_job(refused.id) is None


async def test_credits_count_not_jobs(store: SqlStore) -> None:
    await store.create_job(make_job("three", credits=3), scopes(user=5))
    with pytest.raises(QuotaExceeded) as info:
        await store.create_job(make_job("three-more", credits=3), scopes(user=5))
    assert info.value.details["used"] == 3
    await store.create_job(make_job("two", credits=2), scopes(user=5))
    assert await used(store, USER) == 5


async def test_periods_have_their_own_counters(store: SqlStore) -> None:
    next_period = PERIOD + timedelta(days=1)
    await store.create_job(make_job("today"), scopes(user=1))
    await store.create_job(make_job("tomorrow", period_start=next_period), scopes(user=1))
    assert (await used(store, USER), await used(store, USER, next_period)) == (1, 1)
    assert await used(store, ("user", "telegram:nobody")) == 0


@pytest.mark.parametrize(("reserved", "real"), [(4, 1), (1, 3), (2, 0)])
async def test_succeed_charges_the_real_credits(store: SqlStore, reserved: int, real: int) -> None:
    other, _ = await store.create_job(make_job("other", credits=2), scopes(user=10, community=10))
    job, _ = await store.create_job(make_job("k", credits=reserved), scopes(user=10, community=10))
    assert await store.succeed(job.id, credits=real, usage_tokens=10, estimated_cost=None, result_refs=())
    assert (await used(store, USER), await used(store, COMMUNITY)) == (2 + real, 2 + real)
    # Finished: neither a second commit nor a late refund moves the counters.
    assert not await store.succeed(job.id, credits=9, usage_tokens=None, estimated_cost=None, result_refs=())
    assert not await store.fail(job.id, error_kind="late")
    assert (await used(store, USER), await used(store, COMMUNITY)) == (2 + real, 2 + real)
    assert (await store.get_job(other.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]


async def test_commit_may_pass_the_limit(store: SqlStore) -> None:
    job, _ = await store.create_job(make_job("k", credits=1), scopes(user=2))
    await store.succeed(job.id, credits=3, usage_tokens=None, estimated_cost=None, result_refs=())
    assert await used(store, USER) == 3
    with pytest.raises(QuotaExceeded):
        await store.create_job(make_job("next"), scopes(user=2))


async def test_fail_refunds_exactly_once(store: SqlStore) -> None:
    await store.create_job(make_job("kept", credits=1), scopes())
    job, _ = await store.create_job(make_job("k", credits=2), scopes())
    assert (await used(store, USER), await used(store, COMMUNITY)) == (3, 3)
    assert await store.fail(job.id, error_kind="api_server_error")
    assert not await store.fail(job.id, error_kind="api_server_error")
    assert not await store.fail(job.id, error_kind="cancelled", status=JobStatus.CANCELLED)
    assert not await store.succeed(job.id, credits=2, usage_tokens=None, estimated_cost=None, result_refs=())
    assert (await used(store, USER), await used(store, COMMUNITY)) == (1, 1)


async def test_concurrent_fail_refunds_once(store: SqlStore) -> None:
    await store.create_job(make_job("kept", credits=1), scopes())
    job, _ = await store.create_job(make_job("k", credits=2), scopes())
    await store.mark_running(job.id, "w")
    outcomes = await asyncio.gather(
        *(store.fail(job.id, error_kind="interrupted") for _ in range(10)),
        *(store.fail(job.id, error_kind="cancelled", status=JobStatus.CANCELLED) for _ in range(10)),
    )
    assert outcomes.count(True) == 1
    assert (await used(store, USER), await used(store, COMMUNITY)) == (1, 1)


async def test_concurrent_succeed_and_fail_settle_once(store: SqlStore) -> None:
    job, _ = await store.create_job(make_job("k", credits=3), scopes())
    outcomes = await asyncio.gather(
        *(
            store.succeed(job.id, credits=1, usage_tokens=None, estimated_cost=None, result_refs=())
            for _ in range(5)
        ),
        *(store.fail(job.id, error_kind="interrupted") for _ in range(5)),
    )
    assert outcomes.count(True) == 1
    final = await store.get_job(job.id)
    assert final is not None
    expected = 1 if final.status is JobStatus.SUCCEEDED else 0
    assert (await used(store, USER), await used(store, COMMUNITY)) == (expected, expected)


async def test_refund_never_goes_below_zero(
    store: SqlStore, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job, _ = await store.create_job(make_job("k", credits=2), scopes())
    async with sessionmaker.begin() as session:  # an operator reset the counters by hand meanwhile
        await session.execute(sa.update(tables.usage).values(used=1))
    assert await store.fail(job.id, error_kind="x")
    assert (await used(store, USER), await used(store, COMMUNITY)) == (0, 0)


async def test_counters_refuse_to_go_negative(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            sa.insert(tables.usage).values(scope_kind="user", scope_key="x", period_start=PERIOD, used=0)
        )
    with pytest.raises(sa.exc.IntegrityError):
        async with sessionmaker.begin() as session:
            await session.execute(sa.update(tables.usage).values(used=-1))


async def test_several_scopes_are_read_at_once_in_their_order(store: SqlStore) -> None:
    for i in range(3):
        await store.create_job(make_job(f"read-{i}"), scopes(user=10, community=100))
    asked = [
        QuotaScope(*COMMUNITY, 100),
        QuotaScope("member", "telegram:g1:nobody", 5),  # never charged: zero
        QuotaScope(*USER, 10),
    ]
    snapshots = await store.usages(asked, PERIOD)
    assert [(s.kind, s.key, s.used) for s in snapshots] == [
        ("community", "telegram:g1", 3),
        ("member", "telegram:g1:nobody", 0),
        ("user", "telegram:u1", 3),
    ]
    assert await store.usages([], PERIOD) == []
