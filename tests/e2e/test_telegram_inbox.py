"""Telegram's receipt of an update (the next getUpdates offset, the webhook's 200) comes only after
the update is stored: while the database cannot take it, Telegram keeps it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from core.storage.protocol import StoredUpdate
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png


def _stall_inbox(tg: TelegramHarness) -> tuple[asyncio.Event, asyncio.Event]:
    """Make storing updates wait (a slow or locked database) until the first event is set."""
    assert tg.core is not None
    store: Any = tg.core.store
    real = store.inbox_put
    release, reached = asyncio.Event(), asyncio.Event()

    async def stalled(updates: list[StoredUpdate], worker_id: str) -> set[str]:
        reached.set()
        await release.wait()
        return set(await real(updates, worker_id))

    store.inbox_put = stalled
    return release, reached


async def test_polling_confirms_an_update_only_after_storing_it(tg: TelegramHarness) -> None:
    release, reached = _stall_inbox(tg)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="stored first")
    update_id = tg.fake.bot.pending[-1]["update_id"]
    await tg.fake.wait_for(reached.is_set, 20, what="the bot to store the update")
    # Telegram still holds it: a crash now would see it delivered again.
    assert [u["update_id"] for u in tg.fake.bot.pending] == [update_id]
    release.set()
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    await tg.fake.wait_for(lambda: not tg.fake.bot.pending, 20, what="the update to be confirmed")


async def test_the_webhook_answers_only_after_storing(tg: TelegramHarness) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}/telegram-hook"
    await tg.restart(
        telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port
    )
    release, reached = _stall_inbox(tg)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="stored first")
    await tg.fake.wait_for(reached.is_set, 20, what="the bot to store the update")
    assert not tg.fake.webhook_deliveries  # the POST has no answer yet
    release.set()
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    assert [d.status for d in tg.fake.webhook_deliveries] == [200]


async def test_updates_that_arrive_together_are_stored_together(tg: TelegramHarness) -> None:
    """A burst is a few writes, not one per update in a row (each had waited for the last)."""
    assert tg.core is not None
    store: Any = tg.core.store
    real, batches = store.inbox_put, []
    release = asyncio.Event()

    async def counted(updates: list[StoredUpdate], worker_id: str) -> set[str]:
        batches.append(len(updates))
        await release.wait()  # a slow database: what arrives meanwhile joins the next batch
        return set(await real(updates, worker_id))

    store.inbox_put = counted
    people = [tg.fake.user() for _ in range(20)]
    chats = [tg.fake.private_chat(p) for p in people]
    asked = [tg.fake.send_text(c, p, "/usage") for c, p in zip(chats, people, strict=True)]
    await tg.fake.wait_for(lambda: batches, 20, what="the first batch to be stored")
    release.set()
    for chat, m in zip(chats, asked, strict=True):
        await tg.text(chat, "You've used", after=m.message_id)
    assert sum(batches) == 20 and len(batches) <= 3, batches
    await tg.fake.wait_for(lambda: not tg.fake.bot.pending, 20, what="the updates to be confirmed")
