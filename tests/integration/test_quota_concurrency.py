"""No overshoot under concurrency, through the engine and runner, on SQLite and PostgreSQL.

500 edits arrive at once against a limit of 100 (the community pool, or the bot-wide cap):
exactly 100 are accepted, each reserving in the member, community and global counters in one
transaction; the rest are refused and charge nothing. Grants race reservations without losing
an update.
"""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.actions import SendError, SendImage
from core.events import AdminCommand, EditSubmitted, Role
from core.identity import Platform, UserKey
from core.storage.protocol import AuditEntry, JobStatus
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import PERIOD, make_job
from tests.unit.engine_world import World

N = 500
LIMIT = 100


def _world(sessionmaker: async_sessionmaker[AsyncSession], **kw: object) -> World:
    return World(store_factory=partial(SqlStore, sessionmaker), **kw)  # type: ignore[arg-type]


async def _storm(w: World, where: list[str | None]) -> tuple[int, list[str]]:
    """``N`` users edit at once, user i in community ``where[i % len(where)]``; (accepted, refusals)."""
    w.fetcher.add("p1", w.image)
    w.editor.gate = asyncio.Event()  # hold the accepted edits, so every reservation is still in flight
    replies = await asyncio.gather(
        *(
            w.engine.handle(
                w.origin(f"user{i}", community=where[i % len(where)]),
                EditSubmitted((w.ref("p1"),), f"edit {i}"),
            )
            for i in range(N)
        )
    )
    refusals = [a.kind for actions in replies for a in actions if isinstance(a, SendError)]
    accepted = sum(1 for actions in replies if not actions)
    return accepted, refusals


async def _used(w: World, kind: str, key: str) -> int:
    return (await w.store.usage(kind, key, w.runner.policy.period_start(w.now))).used


@pytest.mark.slow
async def test_500_edits_against_a_community_pool_of_100(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with _world(sessionmaker, community_limit=LIMIT, global_limit=10 * N) as w:
        accepted, refusals = await _storm(w, ["g"])
        assert accepted == LIMIT
        assert refusals == ["community_quota_exceeded"] * (N - LIMIT)
        assert await _used(w, "community", "console:g") == LIMIT
        assert await _used(w, "global", "all") == LIMIT
        w.editor.gate.set()
        await w.runner.wait_idle()
        assert len(w.outbox.of(SendImage)) == LIMIT
        assert await _used(w, "community", "console:g") == LIMIT  # committed, not double-counted
        members = [await _used(w, "member", f"console:g/user{i}") for i in range(N)]
        assert sum(members) == LIMIT and set(members) == {0, 1}


@pytest.mark.slow
async def test_500_edits_against_a_global_cap_of_100(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    # Five communities and private chats share the cap; no community pool is anywhere near full.
    async with _world(sessionmaker, community_limit=N, global_limit=LIMIT) as w:
        accepted, refusals = await _storm(w, ["a", "b", None, "c", "d"])
        assert accepted == LIMIT
        assert refusals == ["global_quota_exceeded"] * (N - LIMIT)
        assert await _used(w, "global", "all") == LIMIT
        pools = [await _used(w, "community", f"console:{c}") for c in "abcd"]
        private = sum([await _used(w, "user", f"console:user{i}") for i in range(2, N, 5)])
        assert sum(pools) + private == LIMIT
        w.editor.gate.set()
        await w.runner.wait_idle()
        assert await _used(w, "global", "all") == LIMIT


async def test_grants_race_reservations_and_each_other(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlStore(sessionmaker)
    scope = ("member", "telegram:g1/u1")
    entry = AuditEntry(actor="telegram:9", action="grant", community="telegram:g1")

    # 100 grants of one credit at once: none lost.
    await asyncio.gather(*(store.add_bonus(*scope, PERIOD, 1, entry) for _ in range(100)))
    assert (await store.usage(*scope, PERIOD)).bonus == 100
    assert len(await store.audit_log(limit=1000)) == 100

    # 300 reservations of a limit of 10 (+100 granted) racing 50 takes: the counter never passes
    # what limit + bonus allowed at the moment each reservation ran, and nothing is lost.
    from core.storage.protocol import QuotaScope

    member = QuotaScope("member", scope[1], 10)
    jobs = [make_job(f"k{i}", community_id="g1") for i in range(300)]
    results = await asyncio.gather(
        *(store.create_job(job, (member,)) for job in jobs),
        *(store.add_bonus(*scope, PERIOD, -1, entry) for _ in range(50)),
        return_exceptions=True,
    )
    created = [r for r in results[:300] if isinstance(r, tuple)]
    snap = await store.usage(*scope, PERIOD)
    assert snap.bonus == 50 and snap.used == len(created)
    assert 60 <= len(created) <= 110  # at least limit + final bonus, at most limit + initial bonus
    assert len(await store.active_jobs("telegram", "u1")) == len(created)


async def test_double_tapped_admin_commands_and_edits_stay_consistent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with _world(sessionmaker, user_limit=1, owners=(UserKey(Platform.CONSOLE, "boss"),)) as w:
        w.fetcher.add("p1", w.image)
        target = UserKey(Platform.CONSOLE, "t1")
        admin = w.origin("adm", community="g", role=Role.ADMIN)
        # Ten grants of 1 at once (ten taps): each is its own change, all counted and audited.
        await asyncio.gather(
            *(w.engine.handle(admin, AdminCommand("grant", "1", target, "Tina")) for _ in range(10))
        )
        origin = w.origin("t1", community="g", event_id="tap")
        # The same edit delivered twenty times: charged once.
        await asyncio.gather(
            *(w.engine.handle(origin, EditSubmitted((w.ref("p1"),), "x")) for _ in range(20))
        )
        await w.runner.wait_idle()
        snap = await w.store.usage("member", "console:g/t1", w.runner.policy.period_start(w.now))
        assert (snap.used, snap.bonus) == (1, 10)
        assert len(await w.store.audit_log(limit=100)) == 10
        (job,) = [j for j in await w.store.job_activity(since=PERIOD) if j.user_id == "t1"]
        assert job.status is JobStatus.SUCCEEDED
