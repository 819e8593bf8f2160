"""Rate budgets shared across processes (issue 14): PostgreSQL and Redis keep one GCRA bucket per
key; concurrent takes from several "processes" (engines, clients) never overspend it; progress
(``try_take``) leaves headroom that results (``reserve``) still get at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from core.ratelimit import Budget, Rate, SharedBudget
from core.ratelimit.budget import gcra
from core.ratelimit.redis_budget import RedisBudget
from core.storage.db import create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.sql_budget import SqlBudget
from tests.integration.db_fixtures import TestDatabase

REDIS_URL = "redis://127.0.0.1:6379/0"
# Slow refill: the few milliseconds a test takes refill (almost) nothing.
SLOW = Rate(per_second=0.01, burst=10)


def test_gcra_reference() -> None:
    rate = Rate(per_second=10, burst=3)
    tat = None
    results = []
    for _ in range(4):
        step = gcra(tat, 100.0, rate, 1, rate.window)
        results.append(step)
        tat = step[0] if step else tat
    assert [r is not None for r in results] == [True, True, True, False]
    assert gcra(tat, 100.0, rate, 1, float("inf")) == pytest.approx((100.4, 0.1))


async def _redis(prefix: str) -> RedisBudget | None:
    try:
        import redis.asyncio as redis
    except ImportError:
        return None
    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        return None
    return RedisBudget(client, prefix=prefix)


@pytest.fixture
async def pg_budgets(postgres_database: TestDatabase) -> AsyncIterator[list[SharedBudget]]:
    """Three handles on one PostgreSQL schema, as three processes would hold."""
    await upgrade_engine(postgres_database.engine)
    engines = [postgres_database.engine, postgres_database.new_engine(), postgres_database.new_engine()]
    try:
        yield [SqlBudget(create_sessionmaker(e)) for e in engines]
    finally:
        for engine in engines[1:]:
            await engine.dispose()


@pytest.fixture
async def redis_budgets() -> AsyncIterator[list[SharedBudget]]:
    """Three clients of one Redis, as three processes would hold."""
    prefix = f"editbot-test:{uuid.uuid4().hex}:"
    handles = [await _redis(prefix) for _ in range(3)]
    try:
        if None in handles:
            pytest.skip(f"Redis not reachable at {REDIS_URL} (or the redis package is missing)")
        yield [h for h in handles if h is not None]
    finally:
        for handle in handles:
            if handle is not None:
                await handle._client.aclose()


@pytest.fixture(params=["pg_budgets", "redis_budgets"])
def budgets(request: pytest.FixtureRequest) -> list[SharedBudget]:
    """The shared budgets on each store."""
    found: list[SharedBudget] = request.getfixturevalue(request.param)
    return found


@pytest.mark.postgres
async def test_concurrent_takes_never_overspend(budgets: list[SharedBudget]) -> None:
    budget = Budget("telegram:global", SLOW)
    takes = [budgets[i % 3].try_take(budget, headroom=0) for i in range(60)]
    granted = await asyncio.gather(*takes)
    assert sum(granted) == 10  # the burst, across every process


@pytest.mark.postgres
async def test_progress_leaves_headroom_that_results_get_at_once(budgets: list[SharedBudget]) -> None:
    budget = Budget("telegram:chat:-100", SLOW)
    progress = [await budgets[i % 3].try_take(budget) for i in range(8)]
    assert progress == [True] * 5 + [False] * 3  # half the burst, then progress is dropped
    waits = [await budgets[i % 3].reserve(budget) for i in range(7)]
    assert waits[:5] == [0.0] * 5  # results still go at once
    assert waits[5] == pytest.approx(100, abs=1) and waits[6] == pytest.approx(200, abs=1)
    assert not await budgets[0].try_take(budget)
    other = Budget("telegram:chat:-200", SLOW)  # budgets are independent
    assert await budgets[1].try_take(other)
