"""Telegram's flood limits for a bot token shared by several processes (issue 14).

Telegram counts messages per bot token: about 30 a second overall and 20 a minute per group,
whichever process sends them. Every sending call first takes its share of the shared budgets
(:class:`core.ratelimit.SharedBudget`, in PostgreSQL or Redis) and waits as long as they say;
progress (the progress lane: status edits and removals, queue positions; and ``sendChatAction``)
is dropped instead when the budget is short, so results and errors go first. PTB's own
per-process limiter and its 429 retries stay underneath (:class:`MeteredRateLimiter`).

Issue 11's two-lane limiter can call the same budgets: :func:`budgets_for` names them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.telegram_bot.lanes import LAST
from adapters.telegram_bot.metering import MeteredRateLimiter
from core.ratelimit import Budget, Rate, SharedBudget
from core.telemetry import Telemetry

GLOBAL_RATE = Rate(per_second=30.0, burst=30.0)
"""Messages a second for the whole bot (Telegram's documented ~30/s)."""

GROUP_RATE = Rate(per_second=20.0 / 60.0, burst=20.0)
"""Messages a minute in one group (Telegram's documented 20/min)."""

_SENDING = ("send", "edit", "copy", "forward", "delete", "answer")
_PROGRESS = frozenset({"sendChatAction"})


def budgets_for(endpoint: str, data: dict[str, Any], overall: Rate = GLOBAL_RATE) -> list[Budget]:
    """The shared budgets one Bot API call draws on (none for reads such as getFile)."""
    if not endpoint.startswith(_SENDING):
        return []
    found = [Budget("telegram:global", overall)]
    chat = data.get("chat_id")
    if isinstance(chat, int | str) and str(chat).startswith("-"):
        found.append(Budget(f"telegram:chat:{chat}", GROUP_RATE))
    return found


class SharedTelegramLimiter(MeteredRateLimiter):
    """:class:`MeteredRateLimiter` under budgets shared with every process of the token."""

    def __init__(
        self, telemetry: Telemetry, budget: SharedBudget, *, overall: Rate = GLOBAL_RATE, **kwargs: Any
    ) -> None:
        super().__init__(telemetry, **kwargs)
        self._budget = budget
        self._shared_rate = overall
        self.dropped = 0

    async def admit(self, endpoint: str, data: dict[str, Any], lane: int) -> bool:
        """Progress (the progress lane, chat actions) only when the shared budgets have room to
        spare, else dropped (the core sends the newest state next time); everything else waits
        for its turn in them."""
        budgets = budgets_for(endpoint, data, self._shared_rate)
        if lane == LAST or endpoint in _PROGRESS:
            for budget in budgets:
                if not await self._budget.try_take(budget):
                    self.dropped += 1
                    return False
            return True
        waits = [await self._budget.reserve(budget) for budget in budgets]
        if waits and max(waits) > 0:
            await asyncio.sleep(max(waits))  # the shared budget's turn, not a guess
        return True
