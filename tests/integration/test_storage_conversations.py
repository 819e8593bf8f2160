"""Conversations and preferences in the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import EditOptions
from core.storage.protocol import Conversation, ConversationKey, ConvState
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import FakeClock, image

KEY = ConversationKey("telegram", "-100123", "42")


def conversation(**kw: object) -> Conversation:
    fields: dict[str, object] = {
        "key": KEY,
        "state": ConvState.AWAITING_PROMPT,
        "images": (image("p1"), image("p2", url=None, size=None, as_document=False)),
        "mask": image("m1"),
        "options": EditOptions(model="gpt-image-1", quality="high"),
        "data": {"caption": "猫", "nested": {"list": [1, 2.5, None, True]}, "album": "g-7"},
    }
    fields.update(kw)
    return Conversation(**fields)  # type: ignore[arg-type]


async def test_round_trip_keeps_everything(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock()
    store = SqlStore(sessionmaker, clock=clock)
    saved = conversation()
    await store.save_conversation(saved)
    got = await store.get_conversation(KEY)
    assert got == replace(saved, updated_at=clock.now)
    assert got is not None and got.updated_at is not None and got.updated_at.tzinfo is UTC


async def test_real_clock_timestamps_are_aware_utc(store: SqlStore) -> None:
    before = datetime.now(UTC)
    await store.save_conversation(conversation(mask=None, images=()))
    got = await store.get_conversation(KEY)
    assert got is not None and got.mask is None and got.images == ()
    assert got.updated_at is not None and got.updated_at.tzinfo is UTC
    assert before <= got.updated_at <= datetime.now(UTC)


async def test_save_replaces_and_refreshes_updated_at(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock()
    store = SqlStore(sessionmaker, clock=clock)
    await store.save_conversation(conversation())
    later = clock.advance(30)
    second = conversation(state=ConvState.CONFIRM_RETRY, images=(), mask=None, options=EditOptions(), data={})
    await store.save_conversation(second)
    assert await store.get_conversation(KEY) == replace(second, updated_at=later)


async def test_conversations_are_per_chat_and_user(store: SqlStore) -> None:
    other_chat = ConversationKey("telegram", "-100999", "42")
    other_platform = ConversationKey("discord", "-100123", "42")
    await store.save_conversation(conversation())
    assert await store.get_conversation(other_chat) is None
    assert await store.get_conversation(other_platform) is None


async def test_delete_and_idle(store: SqlStore) -> None:
    await store.delete_conversation(KEY)  # absent: no error
    await store.save_conversation(conversation())
    await store.delete_conversation(KEY)
    assert await store.get_conversation(KEY) is None
    await store.save_conversation(conversation())
    await store.save_conversation(conversation(state=ConvState.IDLE))  # idle conversations are not stored
    assert await store.get_conversation(KEY) is None


async def test_preferences(store: SqlStore) -> None:
    assert await store.get_preferences("telegram", "42") == EditOptions()
    await store.set_preferences("telegram", "42", EditOptions(model="dall-e-2", size="512x512", n=2))
    await store.set_preferences("discord", "42", EditOptions(quality="low"))
    assert await store.get_preferences("telegram", "42") == EditOptions(model="dall-e-2", size="512x512", n=2)
    await store.set_preferences("telegram", "42", EditOptions(quality="medium"))
    assert await store.get_preferences("telegram", "42") == EditOptions(quality="medium")
    assert await store.get_preferences("discord", "42") == EditOptions(quality="low")
