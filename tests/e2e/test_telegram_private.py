"""Telegram, private chat: what a user sees for each flow, through the real PTB client and core."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import expected_edit, same_pixels, sample_png


def _pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


async def test_photo_with_caption_comes_back_edited(tg: TelegramHarness) -> None:
    await tg.restart(preview_images=0)  # the three-call common case; previews add their own edits
    user = tg.fake.user(first_name="Ann")
    chat = tg.fake.private_chat(user)
    sent = tg.fake.send_photo(chat, user, sample_png(640, 480), caption="make the sky purple")

    photo = await tg.photo(chat, after=sent.message_id)
    assert photo.caption == "make the sky purple"
    assert photo.button_texts == ["✏️ Edit again", "🔁 Retry"]
    assert photo.reply_to_message_id == sent.message_id
    await tg.idle()

    (request,) = tg.api.requests
    assert (
        request.value("prompt") == "make the sky purple" and request.value("model") == "gpt-image-2.5-flare"
    )
    assert str(user.id) not in (request.value("safety_identifier") or "")
    # Telegram recompresses photos anyway: the API is asked for JPEG, and the photo alone is the result.
    assert request.value("output_format") == "jpeg"
    want = expected_edit(request.images[0].data, None, request.value("size"))
    assert _pixels(photo.photo or b"").size == want.size
    assert [m.message_id for m in tg.fake.messages_in(chat)] == [photo.message_id]

    # The status message became the result (no deletion, no second message), and no chat action
    # was spent while it showed progress: three Bot API calls for the whole edit.
    assert "Editing" in (photo.history[0].get("text") or "")
    assert tg.fake.chat_actions(chat) == []
    assert [c.method for c in tg.fake.calls(chat=chat)] == ["sendMessage", "editMessageMedia"]
    assert len(tg.fake.calls("getFile")) == 1


async def test_photo_then_painted_mask_then_prompt(tg: TelegramHarness) -> None:
    # A model without markup: the painting marks the area (on the 2.5 models it is markup).
    await tg.restart(model="gpt-image-1.5")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    original = Image.open(io.BytesIO(sample_png(400, 300))).convert("RGB")
    painted = original.copy()
    painted.paste((255, 0, 0), (150, 100, 250, 200))  # the user's brush strokes
    buf = io.BytesIO()
    painted.save(buf, "PNG")

    first = tg.fake.send_photo(chat, user, sample_png(400, 300))
    await tg.text(chat, "Got your photo", after=first.message_id)
    second = tg.fake.send_photo(chat, user, buf.getvalue())
    await tg.text(chat, "Got the mask", after=second.message_id)
    third = tg.fake.send_text(chat, user, "put a red balloon there")
    await tg.photo(chat, after=third.message_id)
    await tg.idle()

    (request,) = tg.api.requests
    mask = request.mask
    assert mask is not None and (mask.width, mask.height) == (
        request.images[0].width,
        request.images[0].height,
    )
    alpha = Image.open(io.BytesIO(mask.data)).convert("RGBA").getchannel("A")
    sx, sy = mask.width / 400, mask.height / 300
    assert alpha.getpixel((int(200 * sx), int(150 * sy))) == 0  # painted: editable
    assert alpha.getpixel((int(30 * sx), int(30 * sy))) == 255  # untouched: kept


async def test_skip_cancel_usage_help_start(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/start")
    await tg.text(chat, "Telegram's photo editor", after=m.message_id)
    m = tg.fake.send_text(chat, user, "/help")
    await tg.text(chat, "Telegram's photo editor", after=m.message_id)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64))
    await tg.text(chat, "Got your photo", after=m.message_id)
    m = tg.fake.send_text(chat, user, "/cancel")
    await tg.text(chat, "Cancelled", after=m.message_id)
    m = tg.fake.send_text(chat, user, "hello?")
    await tg.text(chat, "Send me a photo first", after=m.message_id)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64))
    await tg.text(chat, "Got your photo", after=m.message_id)
    m = tg.fake.send_text(chat, user, "/skip")
    await tg.text(chat, "No mask then", after=m.message_id)
    m = tg.fake.send_text(chat, user, "make it blue")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    m = tg.fake.send_text(chat, user, "/usage")
    usage = await tg.text(chat, "You've used", after=m.message_id)
    assert "1 of 10" in (usage.content or "") and "9 left" in (usage.content or "")
    assert tg.api.requests[0].mask is None


async def test_image_sent_as_file_comes_back_as_file_too(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_document(chat, user, sample_png(300, 200), "cat.png", "image/png", caption="add a hat")
    await tg.photo(chat, after=m.message_id)
    doc = await tg.reply(chat, lambda x: x.document is not None, after=m.message_id)
    await tg.idle()
    (request,) = tg.api.requests
    assert same_pixels(
        _pixels(doc.document or b""), expected_edit(request.images[0].data, None, request.value("size"))
    )


async def test_commands_are_registered_in_both_languages(tg: TelegramHarness) -> None:
    english = [c["command"] for c in tg.fake.commands()]
    assert english == ["edit", "settings", "usage", "skip", "cancel", "help"]
    chinese = tg.fake.commands(language_code="zh")
    assert [c["command"] for c in chinese] == english and "蒙版" in chinese[3]["description"]


async def test_status_message_becomes_the_result(tg: TelegramHarness) -> None:
    await tg.restart(preview_images=0)  # the text status; live previews are in test_previews.py
    tg.api.latency = 1.0
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="slowly")
    photo = await tg.photo(chat, after=m.message_id)
    await tg.idle()
    everything = tg.fake.messages_in(chat, include_deleted=True)
    assert [x.message_id for x in everything] == [photo.message_id]
    # One status text while the edit ran (no ticking clock), then the result in its place.
    shown = [h.get("text", "") for h in photo.history]
    assert shown == ["🎨 Editing your image…"], shown
    assert photo.reply_to_message_id == m.message_id and photo.caption == "slowly"
    assert tg.fake.chat_actions(chat) == []
