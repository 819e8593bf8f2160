"""Full-size results (issue 11) on SQLite and PostgreSQL: kept, taken by one press at a time,
expired and purged, and never tied to the job's own result rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.storage.db import create_sessionmaker
from core.storage.protocol import FullSizeState, KeptFiles
from core.storage.sql_store import SqlStore
from tests.integration.db_fixtures import TestDatabase

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = timedelta(hours=24)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64  # binary, with every byte value


def _take(store: SqlStore, job: str, now: datetime = NOW) -> asyncio.Future[KeptFiles]:
    return asyncio.ensure_future(store.take_full_size(job, now, sent_before=now - timedelta(seconds=30)))


async def test_kept_files_come_back_byte_for_byte_in_order(store: SqlStore) -> None:
    await store.keep_full_size("j1", [PNG, b"second"], NOW + DAY)
    assert await _take(store, "j1") == KeptFiles(FullSizeState.SEND, (PNG, b"second"))
    assert await _take(store, "other") == KeptFiles(FullSizeState.GONE)


async def test_keeping_again_replaces_instead_of_duplicating(store: SqlStore) -> None:
    await store.keep_full_size("j1", [PNG, b"second"], NOW + DAY)
    await store.keep_full_size("j1", [PNG, b"second"], NOW + DAY)  # a resumed delivery
    assert (await _take(store, "j1")).images == (PNG, b"second")


async def test_a_second_press_moments_later_sends_nothing(store: SqlStore) -> None:
    await store.keep_full_size("j1", [PNG], NOW + DAY)
    assert (await _take(store, "j1")).state is FullSizeState.SEND
    assert await _take(store, "j1", NOW + timedelta(seconds=5)) == KeptFiles(FullSizeState.JUST_SENT)
    # A press after a while sends them again (the user may have lost the message).
    assert (await _take(store, "j1", NOW + timedelta(minutes=5))).images == (PNG,)


async def test_presses_at_once_in_several_processes_send_once(database: TestDatabase) -> None:
    stores = [SqlStore(create_sessionmaker(database.engine)) for _ in range(3)]
    await stores[0].keep_full_size("j1", [PNG], NOW + DAY)
    found = await asyncio.gather(*(_take(s, "j1") for s in stores))
    assert sorted(f.state for f in found) == sorted(
        [FullSizeState.SEND, FullSizeState.JUST_SENT, FullSizeState.JUST_SENT]
    )


async def test_expired_files_are_gone_at_once_and_purged_by_the_sweep(store: SqlStore) -> None:
    await store.keep_full_size("old", [PNG, PNG], NOW + timedelta(hours=1))
    await store.keep_full_size("new", [PNG], NOW + DAY)
    later = NOW + timedelta(hours=2)
    assert await _take(store, "old", later) == KeptFiles(FullSizeState.GONE)  # before any purge
    assert await store.purge_full_size(later) == 2
    assert await store.purge_full_size(later) == 0
    assert (await _take(store, "new", later)).images == (PNG,)


async def test_one_kept_original_is_read_to_edit_again_without_counting_a_press(store: SqlStore) -> None:
    await store.keep_full_size("j1", [PNG, b"second"], NOW + DAY)
    assert await store.full_size_image("j1", 1, NOW) == b"second"
    assert await store.full_size_image("j1", 0, NOW) == PNG
    assert (await _take(store, "j1")).state is FullSizeState.SEND  # the press still sends
    assert await store.full_size_image("j1", 2, NOW) is None
    assert await store.full_size_image("j1", 0, NOW + 2 * DAY) is None  # expired
