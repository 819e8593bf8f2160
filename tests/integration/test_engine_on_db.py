"""The engine and job runner on the real SQL store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import errors
from core.actions import SendError, SendImage
from core.engine import ConversationEngine
from core.events import ImageReceived, TextReceived
from core.storage.protocol import JobStatus
from core.storage.sql_store import SqlStore
from tests.unit.engine_world import World


def _world(sessionmaker: async_sessionmaker[AsyncSession], **kw: object) -> World:
    return World(store_factory=partial(SqlStore, sessionmaker), **kw)  # type: ignore[arg-type]


async def _used(w: World, user: str = "u1") -> int:
    (text,) = await w.engine.usage(w.origin(user))
    return int(text.params["used"])


async def test_conversation_and_edit(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker) as w:
        w.fetcher.add("p1", w.image)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),)))
        # A second engine (another process) picks up the conversation from the database.
        other = ConversationEngine(w.store, w.runner, w.engine.config)
        await other.handle(w.origin(), TextReceived("make it blue"))
        await w.runner.wait_idle()
        (result,) = w.outbox.of(SendImage)
        job = await w.store.get_job(result.job_id)
        assert job is not None and job.status is JobStatus.SUCCEEDED and job.result_refs
        assert await _used(w) == 1


async def test_many_users_at_once_each_charged_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker, concurrency=3) as w:
        w.fetcher.add("p1", w.image)
        users = [f"user{i}" for i in range(25)]
        await asyncio.gather(
            *(w.engine.handle(w.origin(u), ImageReceived((w.ref("p1"),), f"edit {u}")) for u in users)
        )
        await w.runner.wait_idle()
        assert len(w.outbox.of(SendImage)) == 25 and not w.outbox.of(SendError)
        assert [await _used(w, u) for u in users] == [1] * 25


async def test_redelivered_updates_race_and_charge_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with _world(sessionmaker) as w:
        w.fetcher.add("p1", w.image)
        origin = w.origin(event_id="update-7")
        await asyncio.gather(
            *(w.engine.handle(origin, ImageReceived((w.ref("p1"),), "make it blue")) for _ in range(5))
        )
        await w.runner.wait_idle()
        assert len(w.editor.requests) == 1 and await _used(w) == 1


async def test_failure_refunds_on_the_database(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker) as w:
        w.fetcher.add("p1", w.image)
        w.editor.fail_with = errors.ContentRefused()
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "make it blue"))
        await w.runner.wait_idle()
        assert [e.kind for e in w.outbox.of(SendError)] == ["content_refused"]
        assert await _used(w) == 0
