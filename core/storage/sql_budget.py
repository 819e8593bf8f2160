"""Shared rate budgets in PostgreSQL (:class:`core.ratelimit.SharedBudget`): one row per budget.

Invariants:
- a take is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``: the row lock
  serialises concurrent takes of one budget, and a take that does not fit changes nothing;
- time is the database's (``clock_timestamp()``), so processes on machines whose clocks differ
  still share one timeline.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ratelimit.budget import Budget, GcraStore

# Seconds since the epoch on the database's clock.
_NOW = "extract(epoch from clock_timestamp())"

_TAKE = sa.text(
    f"""
    INSERT INTO rate_budgets AS b (key, tat)
    VALUES (:key, {_NOW} + CAST(:step AS double precision))
    ON CONFLICT (key) DO UPDATE
        SET tat = GREATEST(b.tat, {_NOW}) + CAST(:step AS double precision)
        WHERE GREATEST(b.tat, {_NOW}) + CAST(:step AS double precision) - {_NOW}
            <= CAST(:limit AS double precision)
    RETURNING tat - {_NOW} AS ahead
    """
)


class SqlBudget(GcraStore):
    """GCRA buckets (:mod:`core.ratelimit.budget`) in the ``rate_budgets`` table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _take(self, budget: Budget, cost: float, limit: float) -> float | None:
        params = {"key": budget.key, "step": cost * budget.rate.interval, "limit": limit}
        async with self._sessions() as session, session.begin():
            ahead = (await session.execute(_TAKE, params)).scalar()
        return None if ahead is None else float(ahead)
