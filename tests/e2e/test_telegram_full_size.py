"""Telegram "Full size" (issue 11): a result whose photo loses something (a PNG from a relay that
ignores ``output_format``, a result larger than Telegram shows) comes as one photo with a button,
not a photo plus a file; the button sends the API's original, free, from any process."""

from __future__ import annotations

import base64
import io
import sqlite3
import time
from typing import Any

from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import ChatMessage, FakeChat, FakeUser

BUTTONS = ["✏️ Edit again", "🔁 Retry", "🖼 Full size"]


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), bytes(range(256)) * (width * height * 3 // 256 + 1)).save(
        buf, "JPEG", quality=90
    )
    return buf.getvalue()


def _answer(*images: bytes) -> dict[str, Any]:
    """A relay's answer that ignores the output format asked for."""
    return {"created": int(time.time()), "data": [{"b64_json": base64.b64encode(i).decode()} for i in images]}


async def _edit(tg: TelegramHarness, *results: bytes) -> tuple[FakeChat, FakeUser, ChatMessage]:
    await tg.restart(preview_images=0)  # the three-call common case; previews add their own edits
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    tg.api.respond_next(body=_answer(*results))
    sent = tg.fake.send_photo(chat, user, sample_png(640, 480), caption="make it pop")
    photo = await tg.photo(chat, after=sent.message_id)
    await tg.idle()
    return chat, user, photo


async def _press(tg: TelegramHarness, chat: FakeChat, user: FakeUser, message: ChatMessage) -> str | None:
    press = tg.fake.press_button(chat, user, message, text="🖼 Full size")
    await tg.fake.wait_for(lambda: press.answered, 10, what="the press answered")
    return press.answer_text


def _documents(tg: TelegramHarness, chat: FakeChat, after: int) -> list[ChatMessage]:
    return [m for m in tg.fake.messages_in(chat) if m.document is not None and m.message_id > after]


async def test_a_png_result_is_one_photo_with_a_full_size_button(tg: TelegramHarness) -> None:
    original = sample_png(900, 600, seed=3)
    chat, user, photo = await _edit(tg, original)

    assert photo.button_texts == BUTTONS
    assert _documents(tg, chat, 0) == []
    # Three Bot API calls for the whole edit (status, getFile, the result): the file no longer
    # goes out with it (with EDITBOT_FULL_SIZE_HOURS=0 a sendDocument follows, see below).
    assert [c.method for c in tg.fake.calls(chat=chat)] == ["sendMessage", "editMessageMedia"]
    assert len(tg.fake.calls("getFile")) == 1

    assert await _press(tg, chat, user, photo) is None
    doc = await tg.reply(chat, lambda m: m.document is not None, after=photo.message_id)
    assert doc.document == original  # the API's file, byte for byte
    assert doc.reply_to_message_id == photo.message_id and doc.mime_type == "image/png"

    # A second press moments later sends nothing more, and says where the file is.
    assert "just sent" in (await _press(tg, chat, user, photo) or "")
    m = tg.fake.send_text(chat, user, "/usage")
    usage = await tg.text(chat, "You've used", after=m.message_id)
    assert "1 of 10" in (usage.content or "")  # the press was free
    assert len(_documents(tg, chat, photo.message_id)) == 1


async def test_a_result_larger_than_telegram_shows_gets_the_button(tg: TelegramHarness) -> None:
    original = _jpeg(3000, 1200)
    chat, user, photo = await _edit(tg, original)
    shown = Image.open(io.BytesIO(photo.photo or b""))
    assert photo.button_texts == BUTTONS and _documents(tg, chat, 0) == []
    # Telegram shows it at most 2560 px wide: the button has something to add.
    assert len(tg.fake.calls(chat=chat)) == 2 and shown.size == (2560, 1024)

    await tg.restart()  # another process answers the press: the files are in the shared database
    assert await _press(tg, chat, user, photo) is None
    doc = await tg.reply(chat, lambda m: m.document is not None, after=photo.message_id)
    assert doc.document == original


async def test_a_photo_telegram_shows_as_is_has_no_button(tg: TelegramHarness) -> None:
    chat, _, photo = await _edit(tg, _jpeg(1024, 768))
    assert photo.button_texts == BUTTONS[:2] and _documents(tg, chat, 0) == []


async def test_an_expired_full_size_result_is_explained(tg: TelegramHarness) -> None:
    chat, user, photo = await _edit(tg, sample_png(700, 500))
    with sqlite3.connect(tg.tmp / "bot.db") as db:
        db.execute("UPDATE full_size_results SET expires_at = '2026-01-01 00:00:00.000000'")
    alert = await _press(tg, chat, user, photo) or ""
    assert "no longer kept" in alert and "Edit again" in alert and "Retry" in alert
    assert _documents(tg, chat, 0) == []


async def test_several_results_send_all_their_files(tg: TelegramHarness) -> None:
    first, second = sample_png(600, 400, seed=1), sample_png(600, 400, seed=2)
    await tg.restart(preview_images=0)
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    await tg.choose(chat, user, "set:n:2", "2")
    tg.api.respond_next(body=_answer(first, second))
    sent = tg.fake.send_photo(chat, user, sample_png(640, 480), caption="two takes")
    buttons = await tg.text(chat, "2 results", after=sent.message_id)
    await tg.idle()
    assert buttons.button_texts == BUTTONS and _documents(tg, chat, 0) == []

    assert await _press(tg, chat, user, buttons) is None
    await tg.fake.wait_for(lambda: len(_documents(tg, chat, buttons.message_id)) == 2, 10, what="two files")
    docs = _documents(tg, chat, buttons.message_id)
    assert [d.document for d in docs] == [first, second]
    assert all(d.reply_to_message_id == buttons.message_id for d in docs)


async def test_zero_hours_sends_the_file_with_the_photo_as_before(tg: TelegramHarness) -> None:
    tg.overrides["full_size_hours"] = 0
    original = sample_png(900, 600, seed=5)
    chat, _, photo = await _edit(tg, original)
    doc = await tg.reply(chat, lambda m: m.document is not None, after=photo.message_id)
    assert photo.button_texts == BUTTONS[:2] and doc.document == original
    # Before issue 11's button: four calls, the file uploaded with every such result.
    assert [c.method for c in tg.fake.calls(chat=chat)] == ["sendMessage", "editMessageMedia", "sendDocument"]
    assert len(tg.fake.calls("getFile")) == 1


async def _sent_as_file(
    tg: TelegramHarness, data: bytes, name: str, mime: str, caption: str
) -> tuple[ChatMessage, ChatMessage]:
    """A file sent to the bot: the result photo and the file that came with it, the bot idle."""
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_document(chat, user, data, name, mime, caption=caption)
    photo = await tg.photo(chat, after=m.message_id)
    doc = await tg.reply(chat, lambda x: x.document is not None, after=m.message_id)
    await tg.idle()
    return photo, doc


async def test_a_file_sent_as_a_file_comes_back_as_a_file_without_a_button(tg: TelegramHarness) -> None:
    photo, doc = await _sent_as_file(tg, sample_png(300, 200), "cat.png", "image/png", "add a hat")
    assert photo.button_texts == BUTTONS[:2]
    assert Image.open(io.BytesIO(doc.document or b"")).format == "PNG"


async def test_a_photo_sent_as_a_file_comes_back_as_a_jpeg_file(tg: TelegramHarness) -> None:
    photo, doc = await _sent_as_file(tg, _jpeg(600, 400), "IMG_0001.jpg", "image/jpeg", "warmer")
    (request,) = tg.api.requests
    # The file is shown as it is: a JPEG near the source's quality, not five times its bytes in PNG.
    assert (request.value("output_format"), request.value("output_compression")) == ("jpeg", "95")
    assert Image.open(io.BytesIO(doc.document or b"")).format == "JPEG"
    assert photo.button_texts == BUTTONS[:2]


async def _edit_again(tg: TelegramHarness, chat: FakeChat, user: FakeUser, photo: ChatMessage) -> bytes:
    """Press "Edit again" under ``photo``, ask for a change; the image the API then received."""
    tg.fake.press_button(chat, user, photo, text="✏️ Edit again")
    await tg.text(chat, "type what to change next", after=photo.message_id)
    m = tg.fake.send_text(chat, user, "now make it grey")
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    return tg.api.requests[-1].images[0].data


async def test_edit_again_starts_from_the_kept_original_then_from_the_photo(tg: TelegramHarness) -> None:
    original = sample_png(900, 600, seed=5)
    chat, user, photo = await _edit(tg, original)
    again = await _edit_again(tg, chat, user, photo)
    with Image.open(io.BytesIO(again)) as sent, Image.open(io.BytesIO(original)) as made:
        # The API's lossless original, not Telegram's JPEG of it.
        assert sent.format == "PNG" and sent.convert("RGB").tobytes() == made.convert("RGB").tobytes()

    chat, user, photo = await _edit(tg, sample_png(700, 500, seed=6))
    with sqlite3.connect(tg.tmp / "bot.db") as db:
        db.execute("UPDATE full_size_results SET expires_at = '2026-01-01 00:00:00.000000'")
    again = await _edit_again(tg, chat, user, photo)
    with Image.open(io.BytesIO(again)) as sent:
        assert sent.format == "JPEG"  # expired: the photo the chat shows, as before
