"""Limits over the settings' defaults, blocks, grants and the audit log, on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import errors
from core.events import Origin
from core.identity import ChatRef, Community, Platform, UserKey
from core.quotas.limits import EVERYWHERE, LimitResolver
from core.quotas.rules import QuotaPolicy
from core.storage import tables
from core.storage.protocol import AuditEntry, JobStatus, QuotaScope
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import PERIOD, FakeClock, make_job

POLICY = QuotaPolicy(user_limit=10, community_limit=200, period="day", timezone="UTC")
ALICE = UserKey(Platform.TELEGRAM, "u1")
GROUP = Community(Platform.TELEGRAM, "g1")
OTHER = Community(Platform.TELEGRAM, "g2")
ENTRY = AuditEntry(actor="telegram:99", action="set_limit", actor_name="Ada")


def origin(user: UserKey = ALICE, community: Community | None = GROUP) -> Origin:
    return Origin(user, ChatRef(user.platform, "c1"), "e1", community=community)


def limits_of(scopes: tuple[QuotaScope, ...]) -> dict[str, int | None]:
    return {scope.kind: scope.limit for scope in scopes}


async def test_defaults_without_overrides(store: SqlStore) -> None:
    resolver = LimitResolver(store, POLICY)
    assert await resolver.scopes(origin(community=None)) == (
        QuotaScope("user", "telegram:u1", 10),
        QuotaScope("global", "all", None),
    )
    assert await resolver.scopes(origin()) == (
        QuotaScope("member", "telegram:g1/u1", 10),
        QuotaScope("community", "telegram:g1", 200),
        QuotaScope("global", "all", None),
    )
    capped = LimitResolver(store, replace(POLICY, global_limit=1000))
    assert limits_of(await capped.scopes(origin()))["global"] == 1000


async def test_overrides_from_most_to_least_specific(store: SqlStore) -> None:
    resolver = LimitResolver(store, POLICY)
    await store.set_limit("members", "telegram:g1", 5, ENTRY)
    assert limits_of(await resolver.scopes(origin())) == {"member": 5, "community": 200, "global": None}
    await store.set_limit("member", "telegram:g1/u1", 2, ENTRY, label="Alice")
    await store.set_limit("community", "telegram:g1", 50, ENTRY)
    await store.set_limit("global", "all", 300, ENTRY)
    await store.set_limit("user", "telegram:u1", 7, ENTRY)
    assert limits_of(await resolver.scopes(origin())) == {"member": 2, "community": 50, "global": 300}
    bob = UserKey(Platform.TELEGRAM, "u2")
    assert limits_of(await resolver.scopes(origin(bob))) == {"member": 5, "community": 50, "global": 300}
    assert limits_of(await resolver.scopes(origin(community=None))) == {"user": 7, "global": 300}
    # Another community, and the same ids on another platform, are untouched.
    assert limits_of(await resolver.scopes(origin(community=OTHER))) == {
        "member": 10,
        "community": 200,
        "global": 300,
    }
    discord = UserKey(Platform.DISCORD, "u1")
    assert (
        limits_of(await resolver.scopes(origin(discord, Community(Platform.DISCORD, "g1"))))["member"] == 10
    )

    # Removing an override falls back to the next one; previous values come back for the audit.
    assert await store.set_limit("member", "telegram:g1/u1", None, ENTRY) == 2
    assert limits_of(await resolver.scopes(origin()))["member"] == 5
    assert await store.set_limit("member", "telegram:g1/u1", None, ENTRY) is None
    assert await store.set_limit("global", "all", 400, ENTRY) == 300


async def test_community_limits_lists_only_that_community(store: SqlStore) -> None:
    await store.set_limit("community", "telegram:g1", 50, ENTRY)
    await store.set_limit("members", "telegram:g1", 5, ENTRY)
    await store.set_limit("member", "telegram:g1/u1", 2, ENTRY, label="Alice")
    await store.set_limit("member", "telegram:g10/u1", 3, ENTRY)  # a prefix, not the same community
    await store.set_limit("member", "telegram:g_/u1", 4, ENTRY)  # LIKE wildcards are escaped
    found = await store.community_limits("telegram:g1")
    assert [(o.kind, o.key, o.limit, o.label) for o in found] == [
        ("community", "telegram:g1", 50, None),
        ("member", "telegram:g1/u1", 2, "Alice"),
        ("members", "telegram:g1", 5, None),
    ]
    assert found[0].updated_by == "telegram:99" and found[0].updated_at is not None
    assert [o.key for o in await store.community_limits("telegram:g_")] == ["telegram:g_/u1"]


async def test_blocks_in_a_community_and_everywhere(store: SqlStore) -> None:
    resolver = LimitResolver(store, POLICY)
    block = AuditEntry(actor="telegram:99", action="block", community="telegram:g1", target="telegram:u1")
    assert await store.set_block("telegram", "u1", "telegram:g1", True, block)
    assert not await store.set_block("telegram", "u1", "telegram:g1", True, block)  # already: no audit
    assert await store.blocks_of("telegram", "u1") == frozenset({"telegram:g1"})
    with pytest.raises(errors.Blocked) as info:
        await resolver.scopes(origin())
    assert type(info.value) is errors.Blocked
    assert (await resolver.resolve(ALICE, OTHER)).blocked is None
    assert (await resolver.resolve(ALICE, None)).blocked is None

    assert await store.set_block("telegram", "u1", EVERYWHERE, True, replace(block, community=None))
    with pytest.raises(errors.BlockedEverywhere):
        await resolver.scopes(origin(community=None))
    assert (await resolver.resolve(ALICE, OTHER)).blocked == "everywhere"

    unblock = replace(block, action="unblock")
    assert await store.set_block("telegram", "u1", EVERYWHERE, False, unblock)
    assert await store.set_block("telegram", "u1", "telegram:g1", False, unblock)
    assert not await store.set_block("telegram", "u1", "telegram:g1", False, unblock)
    assert await store.blocks_of("telegram", "u1") == frozenset()
    assert [e.action for e in await store.audit_log()] == ["unblock", "unblock", "block", "block"]


async def test_grants_raise_and_takes_lower_the_reservation_ceiling(store: SqlStore) -> None:
    member = QuotaScope("member", "telegram:g1/u1", 1)
    grant = AuditEntry(actor="telegram:99", action="grant", community="telegram:g1", details={"credits": 2})
    await store.create_job(make_job("a"), (member,))
    with pytest.raises(errors.QuotaExceeded) as info:
        await store.create_job(make_job("b"), (member,))
    assert info.value.details == {"scope": "member", "used": 1, "limit": 1}

    snap = await store.add_bonus("member", member.key, PERIOD, 2, grant)
    assert (snap.used, snap.bonus) == (1, 2)
    await store.create_job(make_job("b", credits=2), (member,))
    with pytest.raises(errors.QuotaExceeded) as info:
        await store.create_job(make_job("c"), (member,))
    assert info.value.details == {"scope": "member", "used": 3, "limit": 3}  # the limit includes the grant

    take = replace(grant, action="take")
    snap = await store.add_bonus("member", member.key, PERIOD, -5, take)
    assert snap.bonus == -3
    with pytest.raises(errors.QuotaExceeded) as info:
        await store.create_job(make_job("c"), (member,))
    assert info.value.details["limit"] == 0  # never shown below zero

    # A grant is for its period only.
    nxt = PERIOD + timedelta(days=1)
    assert (await store.usage("member", member.key, nxt)).bonus == 0
    # A grant before any edit creates the counter row.
    assert (await store.add_bonus("user", "telegram:u7", PERIOD, 4, grant)).bonus == 4


async def test_reset_sets_used_to_zero_and_late_refunds_clamp(store: SqlStore) -> None:
    member = QuotaScope("member", "telegram:g1/u1", 10)
    job, _ = await store.create_job(make_job("a", credits=4), (member,))
    reset = AuditEntry(actor="telegram:99", action="reset_usage", community="telegram:g1")
    snap = await store.reset_usage("member", member.key, PERIOD, reset)
    assert (snap.used, snap.bonus) == (0, 0)
    assert await store.fail(job.id, error_kind="api_timeout")  # a refund after the reset
    assert (await store.usage("member", member.key, PERIOD)).used == 0
    # Resetting a counter that never existed is harmless (and still audited).
    await store.reset_usage("member", "telegram:g1/nobody", PERIOD, reset)
    assert len(await store.audit_log()) == 2


async def test_unlimited_scopes_are_counted_but_never_refuse(store: SqlStore) -> None:
    glob = QuotaScope("global", "all", None)
    for i in range(3):
        await store.create_job(make_job(f"k{i}", credits=1000), (glob,))
    assert (await store.usage("global", "all", PERIOD)).used == 3000


async def test_audit_log_newest_first_filtered_by_community(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    store = SqlStore(sessionmaker, clock=clock)
    for i, community in enumerate(["telegram:g1", "telegram:g2", None, "telegram:g1"]):
        clock.advance(60)
        entry = AuditEntry(
            actor=f"telegram:{i}",
            action="grant",
            community=community,
            target="telegram:u1",
            details={"credits": i, "note": "蓝色"},
            actor_name=f"Admin {i}",
            target_name="Alice",
        )
        await store.add_bonus("member", "telegram:g1/u1", PERIOD, 1, entry)
    everything = await store.audit_log(limit=10)
    assert [e.actor for e in everything] == ["telegram:3", "telegram:2", "telegram:1", "telegram:0"]
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    first = everything[-1]
    assert first.details == {"credits": 0, "note": "蓝色"} and first.target_name == "Alice"
    assert first.at == clock.now - timedelta(seconds=180) and first.at.tzinfo is not None
    assert [e.actor for e in await store.audit_log(community="telegram:g1")] == ["telegram:3", "telegram:0"]
    assert len(await store.audit_log(limit=2)) == 2


async def test_a_change_and_its_audit_row_commit_together(store: SqlStore) -> None:
    broken = replace(ENTRY, details={"not json": object()})
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for unserialisable JSON
        await store.set_limit("community", "telegram:g1", 5, broken)
    assert await store.get_limits([("community", "telegram:g1")]) == {}
    with pytest.raises(Exception):  # noqa: B017
        await store.add_bonus("member", "telegram:g1/u1", PERIOD, 5, broken)
    assert (await store.usage("member", "telegram:g1/u1", PERIOD)).bonus == 0
    assert await store.audit_log() == []


async def test_limits_are_checked_by_the_database(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    store = SqlStore(sessionmaker)
    with pytest.raises(ValueError):
        await store.set_limit("community", "telegram:g1", -1, ENTRY)
    async with sessionmaker.begin() as session:
        with pytest.raises(sa.exc.IntegrityError):
            async with session.begin_nested():
                await session.execute(
                    sa.insert(tables.quota_limits).values(
                        scope_kind="planet",
                        scope_key="x",
                        credit_limit=1,
                        updated_by="x",
                        updated_at=PERIOD,
                    )
                )


async def test_job_activity_filters_and_reads_names(store: SqlStore) -> None:
    jobs = [
        make_job("a", community_id="g1", origin={"user_name": "Alice"}),
        make_job("b", community_id="g2", user_id="u2"),
        make_job("c", community_id=None, user_id="u3"),
        make_job("d", community_id="g1", platform="discord"),
    ]
    for job in jobs:
        await store.create_job(job, (QuotaScope("member", f"x:{job.idempotency_key}", 10),))
    await store.fail(jobs[1].id, error_kind="api_timeout")
    everything = await store.job_activity(since=PERIOD - timedelta(days=1))
    assert len(everything) == 4
    group = await store.job_activity(since=PERIOD - timedelta(days=1), platform="telegram", community_id="g1")
    assert [(a.job_id, a.user_name, a.status) for a in group] == [(jobs[0].id, "Alice", JobStatus.QUEUED)]
    assert [a.status for a in everything if a.user_id == "u2"] == [JobStatus.FAILED]
    later = everything[-1].created_at + timedelta(seconds=1)
    assert await store.job_activity(since=later) == []
    assert (
        len(await store.job_activity(since=PERIOD - timedelta(days=1), until=everything[0].created_at)) == 0
    )
