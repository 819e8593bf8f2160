"""Telegram: every failure a user can cause or suffer gets a short, specific reply and costs nothing."""

from __future__ import annotations

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
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, "/frobnicate")
    await tg.text(chat, "I don't know /frobnicate", after=m.message_id)
