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

    async def stalled(update: StoredUpdate, worker_id: str) -> bool:
        reached.set()
        await release.wait()
        return bool(await real(update, worker_id))

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
