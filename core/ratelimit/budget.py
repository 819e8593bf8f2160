"""A token bucket whose state lives outside the process, so limits hold for a bot token, not a process.

The platforms limit a bot token (Telegram ~30 messages/s overall and 20/min per group; Discord 50
requests/s), whichever process sends. Each budget is kept as GCRA (the generic cell rate
algorithm): one number per key, its *theoretical arrival time* ``tat``. Taking ``cost`` units
moves ``tat`` to ``max(tat, now) + cost * interval``; the take fits while ``tat - now`` stays
within the burst window. That is one conditional write per call (PostgreSQL: an upsert;
Redis: a script), never read-then-write, so concurrent processes cannot overspend.

Two kinds of take, so results and errors go first and progress is dropped when short:
- :meth:`SharedBudget.reserve` (results, errors) always gets a slot and says how long to wait;
- :meth:`SharedBudget.try_take` (progress) takes only what is free now *and* leaves ``headroom``
  of the burst for reservations, else takes nothing (the caller drops or merges the update).

Implementations: :class:`core.storage.sql_budget.SqlBudget` (PostgreSQL) and
:class:`core.ratelimit.redis_budget.RedisBudget` (``EDITBOT_REDIS_URL``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` units a second on average, ``burst`` units at once."""

    per_second: float
    burst: float

    @property
    def interval(self) -> float:
        """Seconds one unit is worth."""
        return 1.0 / self.per_second

    @property
    def window(self) -> float:
        """How far ahead of now ``tat`` may run: the burst, in seconds."""
        return self.burst * self.interval


@dataclass(frozen=True, slots=True)
class Budget:
    """A named budget, e.g. ``telegram:global`` or ``telegram:chat:-100123``."""

    key: str
    rate: Rate


class SharedBudget(Protocol):
    """Token buckets shared across processes (what a platform limiter calls)."""

    async def reserve(self, budget: Budget, cost: float = 1.0) -> float:
        """Take ``cost`` units whatever the state; seconds to wait before using them (0: now)."""
        ...

    async def try_take(self, budget: Budget, cost: float = 1.0, *, headroom: float = 0.5) -> bool:
        """Take ``cost`` units if they are free now and ``headroom`` of the burst stays free."""
        ...


class GcraStore(ABC):
    """:class:`SharedBudget` over a store that runs one GCRA step atomically (:meth:`_take`)."""

    @abstractmethod
    async def _take(self, budget: Budget, cost: float, limit: float) -> float | None:
        """Run :func:`gcra` on ``budget``'s stored ``tat``: seconds ``tat`` now runs ahead, or
        None (and nothing changed) when that would pass ``limit``."""

    async def reserve(self, budget: Budget, cost: float = 1.0) -> float:
        """Take ``cost`` units whatever the state; seconds to wait before using them (0: now)."""
        ahead = await self._take(budget, cost, float("inf"))
        assert ahead is not None
        return max(0.0, ahead - budget.rate.window)

    async def try_take(self, budget: Budget, cost: float = 1.0, *, headroom: float = 0.5) -> bool:
        """Take ``cost`` units if they are free now and ``headroom`` of the burst stays free."""
        return await self._take(budget, cost, budget.rate.window * (1.0 - headroom)) is not None


def gcra(tat: float | None, now: float, rate: Rate, cost: float, limit: float) -> tuple[float, float] | None:
    """One GCRA step: the new ``tat`` and the wait, or None when ``tat - now`` would pass ``limit``.

    The reference the SQL and Lua versions follow (and their tests compare against).
    """
    start = max(tat if tat is not None else now, now)
    new_tat = start + cost * rate.interval
    ahead = new_tat - now
    if ahead > limit:
        return None
    return new_tat, max(0.0, ahead - rate.window)
