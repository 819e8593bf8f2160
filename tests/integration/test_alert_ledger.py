"""The owner-alert ledger on SQLite and PostgreSQL: several processes, one message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.storage.alerts import SqlAlertLedger
from core.storage.db import create_sessionmaker
from tests.integration.db_fixtures import TestDatabase

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_one_claim_wins_and_one_resolver_tells(database: TestDatabase) -> None:
    ledgers = [SqlAlertLedger(create_sessionmaker(database.engine)) for _ in range(4)]
    claims = await asyncio.gather(*(ledger.open("key", NOW, HOUR) for ledger in ledgers))
    assert sorted(claims) == [False, False, False, True]
    assert not await ledgers[0].open("key", NOW + 2 * HOUR, HOUR)  # still open
    assert await ledgers[1].open("balance", NOW, HOUR)

    resolved = await asyncio.gather(*(ledger.resolve_all(NOW) for ledger in ledgers))
    assert sorted(resolved, key=len) == [(), (), (), ("balance", "key")]

    assert not await ledgers[0].open("key", NOW + HOUR / 2, HOUR)  # within the cooldown
    assert await ledgers[0].open("key", NOW + HOUR, HOUR)
    assert await ledgers[2].resolve_all(NOW + HOUR) == ("key",)
