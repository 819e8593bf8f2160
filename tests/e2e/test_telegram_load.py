"""Telegram under load (issue 11): more edits at once than API slots — none is lost to a pool or
a timeout, queued users see their true place in line, and the status message is edited only when
the phase changes."""

from __future__ import annotations

import asyncio

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import ChatMessage, FakeChat

CONCURRENCY = 2


async def _burst(tg: TelegramHarness, users: int) -> tuple[list[FakeChat], list[ChatMessage]]:
    """``users`` people each send a photo at once; their chats and results, once all came back
    (checked: each result is its own edit) and the bot is idle."""
    people = [tg.fake.user() for _ in range(users)]
    chats = [tg.fake.private_chat(u) for u in people]
    sent = [
        tg.fake.send_photo(chat, user, sample_png(48, 48, seed=i), caption=f"edit {i}")
        for i, (chat, user) in enumerate(zip(chats, people, strict=True))
    ]
    results = [
        await tg.photo(chat, after=m.message_id, within=60) for chat, m in zip(chats, sent, strict=True)
    ]
    await tg.idle()
    assert sorted(r.caption or "" for r in results) == sorted(f"edit {i}" for i in range(users))
    return chats, results


async def test_three_times_the_api_concurrency_all_succeed(tg: TelegramHarness) -> None:
    await tg.restart(api_concurrency=CONCURRENCY, preview_images=0)  # statuses only; previews: test_previews
    tg.api.latency = 0.3
    chats, results = await _burst(tg, 3 * CONCURRENCY)
    assert len(tg.api.requests) == len(chats) and tg.api.max_in_flight == CONCURRENCY
    waited = []
    for chat, result in zip(chats, results, strict=True):
        # Each chat holds one message: the status that became the result.
        assert [m.message_id for m in tg.fake.messages_in(chat, include_deleted=True)] == [result.message_id]
        shown = [h.get("text", "") for h in result.history]
        # Only phase changes: waiting (with its place in line) at most once per position, then editing.
        assert shown[-1] == "🎨 Editing your image…" and len(shown) == len(set(shown)), shown
        waited += [s for s in shown if s.startswith("⏳")]
        calls = tg.fake.calls(chat=chat)
        assert {c.method for c in calls} <= {"sendMessage", "editMessageText", "editMessageMedia"}
        assert tg.fake.chat_actions(chat) == []
    # Those who waited were told a true place in line: no more than the number waiting.
    places = {int(s.rsplit(" ", 1)[-1].rstrip(".")) for s in waited}
    assert waited and places <= set(range(1, len(chats) - CONCURRENCY + 1)), waited


async def test_a_single_edit_costs_three_bot_api_calls(tg: TelegramHarness) -> None:
    await tg.restart(preview_images=0)  # a model or setting without live previews (each preview is one edit)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    before = len(tg.fake.bot_calls)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="count my calls")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    methods = [c.method for c in tg.fake.bot_calls[before:] if c.method != "getUpdates"]
    # The status message (first feedback), the input download, the status turned into the result.
    assert sorted(methods) == ["editMessageMedia", "getFile", "sendMessage"], methods


async def test_a_burst_that_spends_the_budget_asks_for_no_previews(tg: TelegramHarness) -> None:
    """Previews would be dropped unseen while the budget goes to first feedback, yet each is billed
    and read: edits started then are asked without them; once the burst has passed they are back."""
    await tg.restart(telegram_rate=2.0)  # previews on (the default), a budget six users outrun
    await _burst(tg, 6)
    plain = [r for r in tg.api.requests if r.value("stream") is None and r.value("partial_images") is None]
    assert len(tg.api.requests) == 6 and len(plain) >= 6 - 1

    await asyncio.sleep(1.5)  # the budget refills
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(48, 48), caption="alone")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    assert (tg.api.requests[-1].value("stream"), tg.api.requests[-1].value("partial_images")) == ("true", "2")
