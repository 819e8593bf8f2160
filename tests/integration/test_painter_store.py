"""The painter's storage on SQLite and PostgreSQL: drawings by random id, nonces spent only once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.identity import Platform, UserKey
from core.storage.db import create_sessionmaker
from core.storage.painter import DRAWING_TTL, SqlPainterStore
from tests.integration.db_fixtures import TestDatabase

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ANN = UserKey(Platform.TELEGRAM, "4242424242")  # long enough never to occur in a random id by chance


async def test_drawings_are_kept_by_random_id_and_purged_by_age(database: TestDatabase) -> None:
    store = SqlPainterStore(create_sessionmaker(database.engine))
    first = await store.put_drawing(ANN, b"\x89PNG one", NOW)
    second = await store.put_drawing(ANN, b"\x89PNG two", NOW)
    assert first != second and len(first) >= 32 and ANN.user_id not in first
    assert await store.get_drawing(first) == b"\x89PNG one"
    assert await store.get_drawing("nope") is None
    await store.put_drawing(ANN, b"\x89PNG later", NOW + DRAWING_TTL + timedelta(seconds=1))
    assert await store.get_drawing(first) is None  # older than the TTL: gone


async def test_a_nonce_is_spent_once_among_concurrent_processes(database: TestDatabase) -> None:
    stores = [SqlPainterStore(create_sessionmaker(database.engine)) for _ in range(4)]
    later = NOW + timedelta(minutes=10)
    spent = await asyncio.gather(*(s.spend("n1", later, NOW) for s in stores))
    assert sorted(spent) == [False, False, False, True]
    assert not await stores[0].spend("n1", later, NOW + timedelta(minutes=5))
    # Once expired it is purged; a token with that nonce would be refused as expired anyway.
    assert await stores[1].spend("n1", later + timedelta(minutes=10), later + timedelta(seconds=1))
