"""Discord's 50 requests/s per token, shared by the bot's processes: every call takes its turn in
the shared budget; progress is skipped when the budget has no room to spare, never results."""

from __future__ import annotations

import pytest

from adapters.discord_bot.metering import GLOBAL_BUDGET, BudgetShort, DiscordGate, progress_calls
from core.ratelimit import Budget


class FakeBudget:
    """A shared budget that grants or refuses as told and records what was asked."""

    def __init__(self, *, short: bool = False) -> None:
        self.short = short
        self.asked: list[tuple[str, str]] = []

    async def reserve(self, budget: Budget, cost: float = 1.0) -> float:
        self.asked.append(("reserve", budget.key))
        return 0.0

    async def try_take(self, budget: Budget, cost: float = 1.0, *, headroom: float = 0.5) -> bool:
        self.asked.append(("try", budget.key))
        return not self.short


async def test_results_wait_their_turn_and_progress_is_skipped_when_short() -> None:
    budget = FakeBudget(short=True)
    gate = DiscordGate(budget)
    await gate.before()  # a result, an acknowledgement: always goes, after its turn
    with progress_calls(), pytest.raises(BudgetShort):
        await gate.before()
    assert gate.dropped == 1
    budget.short = False
    with progress_calls():
        await gate.before()
    await gate.before()
    assert [kind for kind, _ in budget.asked] == ["reserve", "try", "try", "reserve"]
    assert {key for _, key in budget.asked} == {"discord:global"}
    assert GLOBAL_BUDGET.rate.per_second == 50.0


async def test_without_a_shared_budget_nothing_is_gated() -> None:
    with progress_calls():
        await DiscordGate(None).before()
