"""The Telegram call budget's lanes: replies, then first feedback, then results, then progress; FIFO
within a lane."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from adapters.telegram_bot.lanes import FEEDBACK, LAST, PREVIEW, PROGRESS, RESULT, Budget, LaneRateLimiter

FIRST = 0


async def test_first_lane_is_served_before_waiting_progress() -> None:
    budget = Budget(rate=200.0, burst=1.0)
    order: list[str] = []

    async def call(name: str, lane: int) -> None:
        await budget.take(lane)
        order.append(name)

    await budget.take(FIRST)  # the burst is spent: everyone below waits
    progress = [asyncio.create_task(call(f"progress {i}", LAST)) for i in range(3)]
    await asyncio.sleep(0)  # they queue first
    first = [asyncio.create_task(call(f"reply {i}", FIRST)) for i in range(3)]
    await asyncio.gather(*progress, *first)
    assert order == [f"reply {i}" for i in range(3)] + [f"progress {i}" for i in range(3)]
    await budget.close()


async def test_calls_are_served_by_their_lane_whatever_their_arrival() -> None:
    limiter = LaneRateLimiter(rate=100.0)
    order: list[str] = []

    async def callback(name: str) -> bool:
        order.append(name)
        return True

    async def call(name: str, lane: str | None) -> None:
        await limiter.process_request(callback, (name,), {}, "sendMessage", {"chat_id": 7}, lane)

    await asyncio.gather(*(call(f"burst {i}", None) for i in range(100)))  # the budget is spent
    order.clear()
    queued = []
    # Arriving worst first: a crowd's previews, results and first feedback, then one /usage reply.
    for lane in (PROGRESS, RESULT, FEEDBACK, None):
        for i in range(2):
            queued.append(asyncio.create_task(call(f"{lane or 'reply'} {i}", lane)))
            await asyncio.sleep(0)
    await asyncio.gather(*queued)
    assert order == [f"{name} {i}" for name in ("reply", FEEDBACK, RESULT, PROGRESS) for i in range(2)]
    await limiter.shutdown()


async def test_group_calls_and_progress_marks_reach_their_budgets() -> None:
    limiter = LaneRateLimiter(rate=1000.0, group_per_minute=60_000.0)
    seen: list[tuple[str, Any]] = []

    async def callback(name: str) -> bool:
        seen.append((name, None))
        return True

    assert await limiter.process_request(callback, ("a",), {}, "sendMessage", {"chat_id": -100}, None)
    assert await limiter.process_request(callback, ("b",), {}, "editMessageText", {"chat_id": 5}, PROGRESS)
    assert await limiter.process_request(callback, ("c",), {}, "getFile", {}, None)
    assert [n for n, _ in seen] == ["a", "b", "c"]
    await limiter.shutdown()


async def test_retry_after_is_honoured_then_the_call_goes_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as the runner opts in
    limiter = LaneRateLimiter(rate=1000.0, max_retries=2)
    attempts = 0

    async def callback() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RetryAfter(timedelta(milliseconds=10))
        return True

    assert await limiter.process_request(callback, (), {}, "sendPhoto", {"chat_id": 1}, None)
    assert attempts == 2
    await limiter.shutdown()


async def test_a_preview_is_dropped_when_the_budget_has_no_room_at_once() -> None:
    limiter = LaneRateLimiter(rate=5.0)
    sent: list[str] = []

    async def callback(name: str) -> bool:
        sent.append(name)
        return True

    assert await limiter.process_request(
        callback, ("early",), {}, "editMessageMedia", {"chat_id": 3}, PREVIEW
    )
    for i in range(4):  # a crowd's feedback spends the rest of the burst
        await limiter.process_request(callback, (f"reply {i}",), {}, "sendMessage", {"chat_id": 3}, None)
    assert not limiter.has_room(3)
    assert await limiter.process_request(callback, ("late",), {}, "editMessageMedia", {"chat_id": 3}, PREVIEW)
    assert sent == ["early", "reply 0", "reply 1", "reply 2", "reply 3"]  # "late" never went out
    await limiter.shutdown()
