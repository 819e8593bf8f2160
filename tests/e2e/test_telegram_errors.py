"""Telegram: every failure a user can cause or suffer gets a short, specific reply and costs nothing
(and a result Telegram will not show as a photo still reaches the user, as a file)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import mask_png, sample_png


async def _usage(tg: TelegramHarness, chat, user) -> str:  # type: ignore[no-untyped-def]
    m = tg.fake.send_text(chat, user, "/usage")
    return (
        await tg.reply(
            chat, lambda x: "used" in (x.content or "") or "已用" in (x.content or ""), after=m.message_id
        )
    ).content or ""


async def test_too_large_file_is_refused_before_downloading(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_document(
        chat, user, b"x" * 10, "huge.png", "image/png", caption="edit", file_size=30 * 2**20
    )
    reply = await tg.text(chat, "too large", after=m.message_id)
    assert "(30 MB)" in (reply.content or "") and "under 20 MB" in (reply.content or "")
    assert tg.fake.calls("getFile") == [] and tg.api.requests == []
    assert "0 of 10" in await _usage(tg, chat, user)


async def test_non_image_and_unreadable_image(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_document(chat, user, b"%PDF-1.4 ...", "doc.pdf", "application/pdf", caption="edit")
    await tg.text(chat, "not a picture I can edit", after=m.message_id)
    m = tg.fake.send_document(chat, user, sample_png(64, 64)[:60], "broken.png", "image/png", caption="edit")
    await tg.text(chat, "couldn't read that image", after=m.message_id)
    await tg.idle()
    assert tg.api.requests == []
    assert "0 of 10" in await _usage(tg, chat, user)


async def test_moderation_refusal_in_chinese(tg: TelegramHarness) -> None:
    user = tg.fake.user(language_code="zh-hans")
    chat = tg.fake.private_chat(user)
    tg.api.fail_next(
        400,
        {
            "error": {
                "message": "Your request was rejected by the safety system.",
                "type": "image_generation_user_error",
                "code": "moderation_blocked",
            }
        },
    )
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="something bad")
    await tg.text(chat, "安全系统拒绝", after=m.message_id)
    await tg.idle()
    assert "已用 0/10" in await _usage(tg, chat, user)


async def test_api_failures_and_timeouts(tg: TelegramHarness) -> None:
    await tg.restart(api_timeout=1.0)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.fail_next(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="one")
    reply = await tg.text(chat, "internal error", after=m.message_id)
    assert "upstream" not in (reply.content or "")
    await tg.idle()
    tg.api.hang_next()
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="two")
    await tg.text(chat, "took too long", after=m.message_id, within=30)
    await tg.idle()
    tg.api.fail_next(
        401, {"error": {"message": "Incorrect API key provided: sk-abc", "type": "invalid_request_error"}}
    )
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="three")
    reply = await tg.text(chat, "rejected the bot's key", after=m.message_id)
    assert "sk-" not in (reply.content or "")
    await tg.idle()
    assert "0 of 10" in await _usage(tg, chat, user)
    for message in tg.fake.messages_in(chat):
        assert "Traceback" not in (message.content or "")


async def test_prompt_too_long_mask_required_and_no_edits_left(tg: TelegramHarness) -> None:
    tg.api.serve_retired = True  # a relay that still has dall-e-2
    await tg.restart(model="dall-e-2", user_quota=1)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64))
    await tg.text(chat, "Got your photo", after=m.message_id)
    m = tg.fake.send_text(chat, user, "x" * 1200)
    await tg.text(chat, "too long (1200 characters). dall-e-2 accepts at most 1000", after=m.message_id)
    m = tg.fake.send_text(chat, user, "shorter")
    await tg.text(chat, "only changes the areas a mask marks", after=m.message_id)
    m = tg.fake.send_document(chat, user, mask_png(64, 64, (16, 16, 48, 48)), "mask.png", "image/png")
    await tg.text(chat, "Got the mask", after=m.message_id)
    m = tg.fake.send_text(chat, user, "shorter")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    m = tg.fake.send_document(chat, user, sample_png(64, 64), "again.png", "image/png", caption="again")
    reply = await tg.text(chat, "no credits left (1/1 used)", after=m.message_id)
    assert "resets" in (reply.content or "")
    (request,) = tg.api.requests
    assert request.mask is not None and request.value("model") == "dall-e-2"


async def test_mask_that_does_not_fit(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(400, 300))
    await tg.text(chat, "Got your photo", after=m.message_id)
    m = tg.fake.send_document(chat, user, sample_png(100, 400), "mask.png", "image/png")
    await tg.text(chat, "Got the mask", after=m.message_id)
    m = tg.fake.send_text(chat, user, "fill it")
    await tg.text(chat, "couldn't line the mask up", after=m.message_id)
    await tg.idle()
    assert tg.api.requests == []
    assert "0 of 10" in await _usage(tg, chat, user)


async def test_stickers_get_a_hint(tg: TelegramHarness) -> None:
    """A sticker is not a photo to edit: the bot says what it takes, and edits nothing."""
    sticker = io.BytesIO()
    Image.new("RGBA", (512, 384), (200, 40, 20, 255)).save(sticker, "WEBP")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_sticker(chat, user, sticker.getvalue())
    assert m.raw["sticker"]["emoji"] == "👍"
    await tg.text(chat, "Send me a photo first", after=m.message_id)
    await tg.idle()
    assert not tg.api.requests


async def test_unknown_commands_are_named(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/frobnicate")
    await tg.text(chat, "I don't know /frobnicate", after=m.message_id)


async def test_a_result_telegram_refuses_as_a_photo_comes_as_a_file(tg: TelegramHarness) -> None:
    """A 2000x50 result (Telegram shows photos up to 20:1): delivered as a file, with its buttons."""
    banner = io.BytesIO()
    Image.new("RGB", (2000, 50), (20, 40, 200)).save(banner, "PNG")
    tg.api.respond_next(
        200, {"created": 1, "data": [{"b64_json": base64.b64encode(banner.getvalue()).decode()}]}
    )
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="make it a banner")
    result = await tg.reply(chat, lambda x: x.document is not None, after=m.message_id)
    await tg.idle()
    assert result.caption == "make it a banner" and result.button_texts == ["✏️ Edit again", "🔁 Retry"]
    with Image.open(io.BytesIO(result.document or b"")) as got:
        assert got.size == (2000, 50)
    shown = [x for x in tg.fake.messages_in(chat) if x.message_id > m.message_id]
    assert shown == [result]  # no photo, no error, no second file
    m = tg.fake.send_text(chat, user, "/usage")
    await tg.text(chat, "You've used 1 of 10", after=m.message_id)


async def test_results_telegram_refuses_as_an_album_come_as_files(tg: TelegramHarness) -> None:
    banners = []
    for colour in ((20, 40, 200), (200, 40, 20)):
        buf = io.BytesIO()
        Image.new("RGB", (2000, 50), colour).save(buf, "PNG")
        banners.append({"b64_json": base64.b64encode(buf.getvalue()).decode()})
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    await tg.choose(chat, user, "set:n:2", "2")
    tg.api.respond_next(200, {"created": 1, "data": banners})
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="two banners")
    buttons = await tg.text(chat, "2 results", after=m.message_id)
    await tg.idle()
    shown = [x for x in tg.fake.messages_in(chat) if x.message_id > m.message_id]
    assert [x.document is not None for x in shown] == [True, True, False] and shown[-1] == buttons
    assert shown[0].caption == "two banners" and buttons.button_texts == ["✏️ Edit again", "🔁 Retry"]
