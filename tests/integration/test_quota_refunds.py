"""Multi-credit edits on the database: every failure, a cancel and a crash give back every scope's credits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import errors
from core.actions import SendError, SendImage
from core.events import Command, EditOptions, EditSubmitted, origin_to_json
from core.resume import ResumeMode
from core.storage.protocol import Job, JobStatus
from core.storage.sql_store import SqlStore
from tests.unit.engine_world import World

SCOPES = (("member", "console:g/u1"), ("community", "console:g"), ("global", "all"))
HIGH_LARGE_TWO = EditOptions(quality="high", size="1536x1024", n=2)  # 3 credits per image: 6


def _world(sessionmaker: async_sessionmaker[AsyncSession], **kw: object) -> World:
    return World(store_factory=partial(SqlStore, sessionmaker), global_limit=100, **kw)  # type: ignore[arg-type]


async def _held(w: World) -> list[int]:
    start = w.runner.policy.period_start(w.now)
    return [(await w.store.usage(kind, key, start)).used for kind, key in SCOPES]


async def _submit(w: World) -> None:
    w.fetcher.files.setdefault("p1", w.image)
    origin = w.origin("u1", community="g")
    assert (
        reply := await w.engine.handle(origin, EditSubmitted((w.ref("p1"),), "x", options=HIGH_LARGE_TWO))
    ).started and not reply.actions


@pytest.mark.parametrize(
    "failure",
    ["fetch", "edit-refused", "edit-timeout", "edit-crash", "deliver"],
)
async def test_a_failed_edit_gives_back_all_six_credits(
    sessionmaker: async_sessionmaker[AsyncSession], failure: str
) -> None:
    async with _world(sessionmaker) as w:
        if failure == "fetch":
            w.fetcher.fail_with = OSError("gone")
        elif failure == "edit-refused":
            w.editor.fail_with = errors.ContentRefused()
        elif failure == "edit-timeout":
            w.editor.fail_with = errors.APITimeout()
        elif failure == "edit-crash":
            w.editor.fail_with = RuntimeError("boom")  # type: ignore[assignment]
        else:
            w.outbox.fail_images = OSError("chat gone")
        w.editor.gate = asyncio.Event()
        await _submit(w)
        if failure != "fetch":  # a failed download ends the job before the gate: nothing to watch
            await w.editor.started.wait()
            assert await _held(w) == [6, 6, 6]
        w.editor.gate.set()
        await w.runner.wait_idle()
        assert await _held(w) == [0, 0, 0]
        (activity,) = await w.store.job_activity(since=w.now - timedelta(days=1))
        assert activity.status is JobStatus.FAILED and activity.credits == 6
        assert len(w.outbox.of(SendError)) == 1


async def test_success_charges_six_in_every_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker) as w:
        await _submit(w)
        await w.runner.wait_idle()
        assert await _held(w) == [6, 6, 6]
        (activity,) = await w.store.job_activity(since=w.now - timedelta(days=1))
        assert activity.status is JobStatus.SUCCEEDED and activity.credits == 6
        assert activity.usage_tokens == 30 and activity.estimated_cost == pytest.approx(10e-5 + 20 * 40e-6)


async def test_cancel_gives_back_every_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker) as w:
        w.editor.gate = asyncio.Event()
        await _submit(w)
        await w.editor.started.wait()
        await w.engine.handle(w.origin("u1", community="g"), Command("cancel"))
        await w.runner.wait_idle()
        assert await _held(w) == [0, 0, 0]


async def test_a_crashed_process_leaves_nothing_reserved(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with _world(sessionmaker, resume=ResumeMode.REFUND) as w:
        # What a process that died mid-edit leaves behind: a running job, credits held in all scopes.
        origin = w.origin("u1", community="g")
        scopes = await w.runner.limits.scopes(origin)
        job = Job(
            id="j1",
            idempotency_key="console:dead",
            platform="console",
            chat_id=origin.chat.chat_id,
            user_id="u1",
            community_id="g",
            origin=origin_to_json(origin),
            images=(w.ref("p1"),),
            mask=None,
            prompt="x",
            model="gpt-image-1",
            options=HIGH_LARGE_TWO,
            credits=w.runner.credits.for_edit("gpt-image-1", HIGH_LARGE_TWO),
            period_start=w.runner.policy.period_start(w.now),
        )
        await w.store.create_job(job, scopes)
        await w.store.mark_running("j1", "w-dead")
        assert await _held(w) == [6, 6, 6]
        assert await w.runner.recover() == 0  # its heartbeat is fresh: maybe still alive
        w.now += timedelta(seconds=w.runner.config.stale_after + 1)
        assert await w.runner.recover() == 1
        assert await w.runner.recover() == 0
        assert await _held(w) == [0, 0, 0]
        assert [e.kind for e in w.outbox.of(SendError)] == ["interrupted"]


async def test_a_crashed_process_s_edit_is_retried_with_its_reservation(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with _world(sessionmaker) as w:
        w.fetcher.files.setdefault("p1", w.image)
        origin = w.origin("u1", community="g")
        job = Job(
            id="j1",
            idempotency_key="console:dead",
            platform="console",
            chat_id=origin.chat.chat_id,
            user_id="u1",
            community_id="g",
            origin=origin_to_json(origin),
            images=(w.ref("p1"),),
            mask=None,
            prompt="x",
            model="gpt-image-1",
            options=HIGH_LARGE_TWO,
            credits=w.runner.credits.for_edit("gpt-image-1", HIGH_LARGE_TWO),
            period_start=w.runner.policy.period_start(w.now),
        )
        await w.store.create_job(job, await w.runner.limits.scopes(origin))
        await w.store.mark_running("j1", "w-dead")
        assert await w.store.start_call("j1", "w-dead") == 1  # it died during the API call
        w.now += timedelta(seconds=w.runner.config.stale_after + 1)
        assert await w.runner.recover() == 1
        await w.runner.wait_idle()
        done = await w.store.get_job("j1")
        assert done is not None and done.status is JobStatus.SUCCEEDED and done.attempts == 2
        assert await _held(w) == [6, 6, 6] and len(w.editor.requests) == 1
        assert len(w.outbox.of(SendImage)) == 1 and not w.outbox.of(SendError)
        assert await w.store.job_result("j1") == []
