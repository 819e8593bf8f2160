"""Owner alerts through the real Telegram stack: once per trouble, once when it is over, never to users."""

from __future__ import annotations

import asyncio

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import FakeChat, FakeUser


def _alerts(tg: TelegramHarness, chat: FakeChat, words: str) -> list[str]:
    return [m.content or "" for m in tg.fake.messages_in(chat) if words in (m.content or "")]


async def _edit(tg: TelegramHarness, user: FakeUser, chat: FakeChat, caption: str) -> str:
    """One edit from ``user``; what the bot answered (the error text, or "photo")."""
    sent = tg.fake.send_photo(chat, user, sample_png(64, 64), caption=caption)
    reply = await tg.reply(
        chat,
        lambda m: (m.photo is not None and bool(m.button_texts)) or "not charged" in (m.content or ""),
        after=sent.message_id,
        within=60,
    )
    return "photo" if reply.photo is not None else reply.content or ""


async def _settle(tg: TelegramHarness) -> None:
    await tg.idle()
    assert tg.core is not None
    await tg.core.alerts.close()


async def test_fifty_rejected_keys_make_one_alert_and_one_recovery(tg: TelegramHarness) -> None:
    owner = tg.fake.user(first_name="Owner")
    owner_chat = tg.fake.private_chat(owner)
    await tg.restart(admins=f"telegram:{owner.id}")
    tg.api.fail_next(401, times=50)
    users = [tg.fake.user() for _ in range(5)]
    chats = [tg.fake.private_chat(u) for u in users]

    async def ten_edits(user: FakeUser, chat: FakeChat) -> list[str]:
        return [await _edit(tg, user, chat, f"try {i}") for i in range(10)]

    answers = await asyncio.gather(*(ten_edits(u, c) for u, c in zip(users, chats, strict=True)))
    assert all("rejected the bot's key" in a for per_user in answers for a in per_user)
    assert len(tg.api.requests) == 50
    await _settle(tg)
    (alert,) = _alerts(tg, owner_chat, "Owner alert")
    assert "rejected the bot's key" in alert and "EDITBOT_API_KEY" in alert
    assert tg.api.api_key not in alert

    assert await _edit(tg, users[0], chats[0], "works again") == "photo"
    assert await _edit(tg, users[1], chats[1], "still works") == "photo"
    await _settle(tg)
    assert len(_alerts(tg, owner_chat, "Owner alert")) == 1
    assert len(_alerts(tg, owner_chat, "Edits work again")) == 1
    for chat in chats:
        assert not _alerts(tg, chat, "Owner alert") and not _alerts(tg, chat, "Edits work again")


async def test_a_long_outage_alerts_once(tg: TelegramHarness) -> None:
    owner = tg.fake.user(first_name="Owner")
    owner_chat = tg.fake.private_chat(owner)
    # 0.3 s stands in for minutes: the failures below are spread over longer than that by
    # construction (a fast bot had got through all of them in less).
    await tg.restart(admins=f"telegram:{owner.id}", alert_after_minutes=0.005)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.fail_next(500, times=12)
    failures = 0
    while (answer := await _edit(tg, user, chat, f"try {failures}")) != "photo":
        assert "internal error" in answer, answer
        failures += 1
        await asyncio.sleep(0.1)  # the outage's time passing, not a wait for something
    assert failures >= 3
    await _settle(tg)
    (alert,) = _alerts(tg, owner_chat, "Owner alert")
    assert "every edit has failed for" in alert and "api_server_error" in alert
    assert len(_alerts(tg, owner_chat, "Edits work again")) == 1


async def test_a_retired_model_and_a_used_up_balance_alert_the_owner_once_each(tg: TelegramHarness) -> None:
    owner = tg.fake.user(first_name="Owner")
    owner_chat = tg.fake.private_chat(owner)
    await tg.restart(
        admins=f"telegram:{owner.id}", model="gpt-image-1"
    )  # the fake refuses it, as OpenAI does
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    for i in range(3):
        assert "no longer available" in await _edit(tg, user, chat, f"old model {i}")
    await _settle(tg)
    (alert,) = _alerts(tg, owner_chat, "Owner alert")
    assert "gpt-image-1 is no longer available" in alert and "EDITBOT_MODEL" in alert

    await tg.restart(model="gpt-image-2.5-flare")
    body = {"error": {"message": "You exceeded your current quota.", "code": "insufficient_quota"}}
    tg.api.fail_next(429, body, times=3)
    for i in range(3):
        assert "balance is used up" in await _edit(tg, user, chat, f"no money {i}")
    await _settle(tg)
    alerts = _alerts(tg, owner_chat, "Owner alert")
    assert len(alerts) == 2 and "balance is used up" in alerts[1]
    assert not _alerts(tg, chat, "Owner alert")
