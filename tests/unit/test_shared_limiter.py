"""The Telegram limiter over shared budgets: which calls draw on which budget, results wait for
their turn, progress is dropped when the budget is short."""

from __future__ import annotations

from typing import Any

from adapters.telegram_bot.lanes import PROGRESS, RESULT
from adapters.telegram_bot.shared_limiter import GROUP_RATE, SharedTelegramLimiter, budgets_for
from core.ratelimit import Budget
from core.telemetry import Telemetry


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


def test_budgets_per_call() -> None:
    assert budgets_for("getFile", {"file_id": "x"}) == []
    assert [b.key for b in budgets_for("sendPhoto", {"chat_id": 42})] == ["telegram:global"]
    group = budgets_for("editMessageText", {"chat_id": -1001})
    assert [b.key for b in group] == ["telegram:global", "telegram:chat:-1001"]
    assert group[1].rate == GROUP_RATE


async def test_results_reserve_and_progress_is_dropped_when_short() -> None:
    budget = FakeBudget(short=True)
    limiter = SharedTelegramLimiter(Telemetry(), budget, max_retries=0)
    calls: list[str] = []

    async def call(*args: Any, **kwargs: Any) -> bool:
        calls.append("sent")
        return True

    await limiter.initialize()
    try:
        assert await limiter.process_request(call, (), {}, "sendChatAction", {"chat_id": 1}, None) is True
        assert calls == [] and limiter.dropped == 1
        await limiter.process_request(call, (), {}, "sendPhoto", {"chat_id": -5}, None)
        assert calls == ["sent"]
        assert budget.asked == [
            ("try", "telegram:global"),
            ("reserve", "telegram:global"),
            ("reserve", "telegram:chat:-5"),
        ]
    finally:
        await limiter.shutdown()


async def test_status_edits_on_the_progress_lane_are_dropped_when_short_results_never() -> None:
    budget = FakeBudget(short=True)
    limiter = SharedTelegramLimiter(Telemetry(), budget, max_retries=0)
    calls: list[str] = []

    async def call(*args: Any, **kwargs: Any) -> bool:
        calls.append("sent")
        return True

    await limiter.initialize()
    try:
        edit = {"chat_id": 7, "message_id": 3}
        assert await limiter.process_request(call, (), {}, "editMessageText", edit, PROGRESS) is True
        assert calls == [] and limiter.dropped == 1
        await limiter.process_request(call, (), {}, "editMessageMedia", edit, RESULT)
        assert calls == ["sent"] and budget.asked[-1] == ("reserve", "telegram:global")
        budget.short = False
        await limiter.process_request(call, (), {}, "editMessageText", edit, PROGRESS)
        assert calls == ["sent", "sent"]
    finally:
        await limiter.shutdown()
