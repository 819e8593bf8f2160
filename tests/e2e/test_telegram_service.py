"""Telegram as a service: many users at once, and webhook mode."""

from __future__ import annotations

import asyncio
import socket

import httpx

from adapters.telegram_bot.runner import webhook_secret
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.polling import eventually


async def test_twenty_users_at_once_are_served_concurrently(tg: TelegramHarness) -> None:
    await tg.restart(api_concurrency=20)
    # Every edit stays in flight until all twenty are: only a bot that sends them concurrently
    # gets past this, on a fast machine or a loaded one.
    tg.api.hold()
    users = [tg.fake.user() for _ in range(20)]
    chats = [tg.fake.private_chat(u) for u in users]
    sent = [
        tg.fake.send_photo(c, u, sample_png(64, 64), caption=f"edit {u.id}")
        for c, u in zip(chats, users, strict=True)
    ]
    await eventually(lambda: tg.api.in_flight == 20, within=120)
    # While the twenty edits run, another user still gets an answer.
    late = tg.fake.user()
    late_chat = tg.fake.private_chat(late)
    m = tg.fake.send_text(late_chat, late, "/usage")
    await tg.text(late_chat, "You've used 0 of 10", after=m.message_id, within=60)
    # No result before any edit finished (live previews, captioned "🖌 Painting…", may already show).
    assert not any(
        x.photo and not (x.caption or "").startswith("🖌") for c in chats for x in tg.fake.messages_in(c)
    )

    tg.api.release_held()
    results = await asyncio.gather(
        *(tg.photo(c, after=s.message_id, within=120) for c, s in zip(chats, sent, strict=True))
    )
    await tg.idle()
    assert [r.caption for r in results] == [f"edit {u.id}" for u in users]


async def test_one_users_messages_are_handled_in_order(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.fake.send_photo(chat, user, sample_png(64, 64))
    tg.fake.send_text(chat, user, "/skip")
    last = tg.fake.send_text(chat, user, "make it blue")
    await tg.photo(chat, after=last.message_id)
    await tg.idle()
    texts = [m.content for m in tg.fake.messages_in(chat) if m.text]
    assert texts[0].startswith("Got your photo") and texts[1].startswith("No mask then")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_with_secret_token(tg: TelegramHarness) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    await tg.restart(
        telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port
    )
    assert tg.fake.bot.webhook is not None and tg.fake.bot.webhook.url == url
    assert tg.fake.bot.webhook.secret_token == webhook_secret(tg.settings())

    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="via webhook")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    assert [d.status for d in tg.fake.webhook_deliveries][:1] == [200]

    # A POST without the secret is refused and reaches nobody.
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url, json={"update_id": 1, "message": {}}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
        )
    assert forged.status_code == 403
    assert len(tg.api.requests) == 1


async def test_shutdown_mid_edit_hands_the_edit_to_the_next_process(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.hang_next()
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="finishes after a restart")
    await tg.fake.wait_for(lambda: len(tg.api.requests) == 1, 20)
    await tg.stop()  # SIGTERM: the bot stops gracefully while the edit is in flight
    status = await tg.text(chat, "The bot is restarting", after=m.message_id)
    await tg.start()
    result = await tg.photo(chat, after=m.message_id)
    await tg.idle()
    assert result.caption == "finishes after a restart" and len(tg.api.requests) == 2
    # The next process turned the status message it found into the result: nothing left over.
    assert result.message_id == status.message_id
    assert [x.message_id for x in tg.fake.messages_in(chat)] == [result.message_id]
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "You've used 1 of 10", after=m.message_id)


async def test_shutdown_mid_edit_with_refund_mode_refunds_and_tells_the_user(tg: TelegramHarness) -> None:
    await tg.restart(resume_interrupted="refund")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.hang_next()
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="never finishes")
    await tg.fake.wait_for(lambda: len(tg.api.requests) == 1, 20)
    await tg.stop()
    notice = await tg.text(chat, "The bot restarted while working on your edit", after=m.message_id)
    assert "not charged" in (notice.content or "")
    await tg.start()
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "You've used 0 of 10", after=m.message_id)
