"""Telegram buttons under results, /settings, and restarts in the middle of things."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import expected_edit, near_pixels, sample_png


async def test_edit_again_uses_the_result_even_after_a_restart(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(128, 96), caption="invert it")
    result = await tg.photo(chat, after=m.message_id)
    await tg.idle()

    await tg.restart()
    tg.fake.press_button(chat, user, result, text="✏️ Edit again")
    ask = await tg.text(chat, "type what to change next", after=result.message_id)
    m = tg.fake.send_text(chat, user, "now make it grey")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()

    first, second = tg.api.requests
    assert second.value("prompt") == "now make it grey" and ask.message_id > result.message_id
    # The second edit's input is the first edit's result (a JPEG Telegram shows as it is).
    with Image.open(io.BytesIO(second.images[0].data)) as got:
        assert near_pixels(got, expected_edit(first.images[0].data, None, first.value("size")))


async def test_retry_asks_once_and_runs_once(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="add stars")
    result = await tg.photo(chat, after=m.message_id)
    await tg.idle()
    tg.fake.press_button(chat, user, result, text="🔁 Retry")
    confirm = await tg.text(chat, "uses 1 credit(s). Go ahead?", after=result.message_id)
    tg.fake.press_button(chat, user, confirm, text="Yes, retry")
    tg.fake.press_button(chat, user, confirm, text="Yes, retry")  # a double tap
    await tg.photo(chat, after=confirm.message_id)
    await tg.idle()
    assert [r.value("prompt") for r in tg.api.requests] == ["add stars", "add stars"]
    m = tg.fake.send_text(chat, user, "/usage")
    usage = await tg.text(chat, "You've used", after=m.message_id)
    assert "2 of 10" in (usage.content or "")


async def test_conversation_survives_a_restart(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64))
    await tg.text(chat, "Got your photo", after=m.message_id)
    await tg.restart()
    m = tg.fake.send_text(chat, user, "make it warmer")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    assert [r.value("prompt") for r in tg.api.requests] == ["make it warmer"]


async def test_settings_menu_changes_the_next_edit(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/settings")
    menu = await tg.text(chat, "Your defaults", after=m.message_id)
    assert "✓ gpt-image-2.5-flare" in menu.button_texts
    tg.fake.press_button(chat, user, menu, "set:size:1536x1024")
    await tg.fake.wait_for(lambda: "✓ 1536x1024" in tg.fake.message(chat, menu.message_id).button_texts, 10)
    tg.fake.press_button(chat, user, menu, "set:n:2")
    await tg.fake.wait_for(lambda: "✓ 2" in tg.fake.message(chat, menu.message_id).button_texts, 10)
    m = tg.fake.send_photo(chat, user, sample_png(96, 64), caption="wider please")
    await tg.text(chat, "2 results", after=m.message_id)
    await tg.idle()
    (request,) = tg.api.requests
    assert request.value("size") == "1536x1024" and request.value("n") == "2"
    album = [x for x in tg.fake.messages_in(chat) if x.media_group_id and x.message_id > m.message_id]
    assert len(album) == 2
