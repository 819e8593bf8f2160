"""Shared rate budgets in Redis (``EDITBOT_REDIS_URL``; needs the optional ``redis`` package).

The GCRA step (:func:`core.ratelimit.budget.gcra`) runs as one Lua script, atomic in Redis, on the
server's clock (``TIME``); keys expire once their budget is full again, so idle budgets vanish.
"""

from __future__ import annotations

from typing import Any

from core.ratelimit.budget import Budget, GcraStore

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local cost, interval, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if tat < now then tat = now end
local new_tat = tat + cost * interval
local ahead = new_tat - now
if ahead > limit then return nil end
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil(ahead * 1000) + 1000)
return string.format('%.6f', ahead)
"""


class RedisBudget(GcraStore):
    """GCRA buckets in Redis; ``client`` is a ``redis.asyncio.Redis``."""

    def __init__(self, client: Any, *, prefix: str = "editbot:budget:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SCRIPT)

    async def _take(self, budget: Budget, cost: float, limit: float) -> float | None:
        args = [cost, budget.rate.interval, min(limit, 1e12)]
        ahead = await self._script(keys=[self._prefix + budget.key], args=args)
        return None if ahead is None else float(ahead)


async def open_redis(url: str) -> Any:
    """A ``redis.asyncio`` client for ``url`` (ConfigError-friendly import of the optional package)."""
    try:
        import redis.asyncio as redis
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from core.errors import ConfigError

        raise ConfigError("EDITBOT_REDIS_URL needs the redis package: pip install 'editbot[redis]'") from exc
    return redis.from_url(url)
