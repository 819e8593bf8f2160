"""The fake Bot API speaks Telegram's wire protocol well enough for the real python-telegram-bot.

Each test runs a real ``telegram.ext.Application`` (or ``telegram.Bot``) against ``fake_telegram`` and
asserts what a user would see. Waiting is done with the fake's deadline-bounded waiters, never sleeps.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_server import FakeTelegram, ptb_polling, ptb_webhook

Context = ContextTypes.DEFAULT_TYPE


def build_app(fake: FakeTelegram, **builder: Any) -> Application[Any, Any, Any, Any, Any, Any]:
    """A real PTB Application pointed at the fake."""
    app_builder = ApplicationBuilder().token(fake.token).base_url(fake.api_url).base_file_url(fake.file_url)
    for name, value in builder.items():
        app_builder = getattr(app_builder, name)(value)
    return app_builder.build()


def two_tone(width: int = 600, height: int = 400, fmt: str = "PNG") -> bytes:
    """Left half red, right half blue: survives JPEG recompression and shows mirroring or rotation."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def close_to(pixel: Any, expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    """JPEG-tolerant colour comparison."""
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


def free_port() -> int:
    """A currently free loopback port for PTB's webhook server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def echo(update: Update, context: Context) -> None:
    """Reply with the text upper-cased."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text.upper())


async def test_echo_over_long_polling(fake_telegram: FakeTelegram) -> None:
    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    alice = fake_telegram.user(1001, "Alice", username="alice")
    dm = fake_telegram.private_chat(alice)

    async with ptb_polling(app):
        first = fake_telegram.send_text(dm, alice, "hello 😀 /start @someone_else")
        reply = await fake_telegram.wait_for_message(dm, after=first)
        second = fake_telegram.send_text(dm, alice, "again")
        reply2 = await fake_telegram.wait_for_message(dm, after=second)

    assert [m.text for m in fake_telegram.messages_in(dm)] == ["HELLO 😀 /START @SOMEONE_ELSE", "AGAIN"]
    # one message_id sequence per chat, shared by both sides; PTB quotes only in groups by default
    assert (reply.message_id, reply.reply_to_message_id) == (first.message_id + 1, None)
    assert reply2.message_id == second.message_id + 1
    # the emoji is two UTF-16 code units, so the command starts at len("hello ") + 2 + 1 = 9
    assert first.entities == [
        {"type": "bot_command", "offset": 9, "length": 6},
        {"type": "mention", "offset": 16, "length": 13},
    ]
    assert fake_telegram.bot.pending == []  # PTB confirmed everything through offset on shutdown


async def test_photo_round_trip_with_button_and_callback(fake_telegram: FakeTelegram) -> None:
    async def on_photo(update: Update, context: Context) -> None:
        assert update.message is not None
        await update.message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
        data = await (await update.message.photo[-1].get_file()).download_as_bytearray()
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Edit again", callback_data="again")]])
        await update.message.reply_photo(bytes(data), caption="Here you go", reply_markup=keyboard)

    async def on_again(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        await query.answer("Working on it")
        await query.edit_message_caption("Sent again below")
        # "edit again" re-sends the result by file_id: no upload, same PhotoSize set
        await query.message.reply_photo(query.message.photo[-1].file_id)

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(CallbackQueryHandler(on_again, pattern="^again$"))
    bob = fake_telegram.user(1002, "Bob")
    dm = fake_telegram.private_chat(bob)

    async with ptb_polling(app):
        sent = fake_telegram.send_photo(dm, bob, two_tone(), caption="make it pop")
        result = await fake_telegram.wait_for_message(dm, lambda m: m.photo is not None, after=sent)
        press = fake_telegram.press_button(dm, bob, result, "again")
        await fake_telegram.wait_for(lambda: press.answered and len(fake_telegram.messages_in(dm)) == 2)

    assert [p["width"] for p in sent.photo_sizes] == [90, 320, 600]  # Telegram-like downscaled sizes
    image = result.image()
    assert image.size == (600, 400)
    assert close_to(image.getpixel((150, 200)), (220, 20, 20)) and close_to(
        image.getpixel((450, 200)), (20, 20, 220)
    )
    assert result.button_texts == ["Edit again"] and result.button("Edit again").callback_data == "again"
    assert press.answer_text == "Working on it"
    edited, again = fake_telegram.messages_in(dm)
    assert (
        edited.caption == "Sent again below" and edited.buttons == []
    )  # no reply_markup in the edit: removed
    assert edited.history[0]["caption"] == "Here you go"
    assert again.photo_sizes == edited.photo_sizes and again.photo == edited.photo
    assert fake_telegram.chat_actions(dm) == ["upload_photo"]
    upload = fake_telegram.calls("sendPhoto")[0]  # the bot re-uploaded exactly what it downloaded
    assert upload.files["photo"].data == fake_telegram.file_bytes(sent.file_id)  # type: ignore[arg-type]


async def test_album_and_media_group_reply(fake_telegram: FakeTelegram) -> None:
    albums: dict[str, list[bytes]] = {}

    async def on_photo(update: Update, context: Context) -> None:
        message = update.message
        assert message is not None and message.media_group_id is not None
        data = await (await message.photo[-1].get_file()).download_as_bytearray()
        albums.setdefault(message.media_group_id, []).append(bytes(data))
        if len(albums[message.media_group_id]) == 3:
            media = [InputMediaPhoto(d) for d in albums[message.media_group_id]]
            await message.reply_media_group(media, caption="3 results")

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    carol = fake_telegram.user(1003, "Carol")
    dm = fake_telegram.private_chat(carol)

    async with ptb_polling(app):
        sent = fake_telegram.send_album(
            dm, carol, [two_tone(), two_tone(300, 200), two_tone(90, 60)], caption="all"
        )
        await fake_telegram.wait_for(lambda: len(fake_telegram.messages_in(dm)) == 3)

    assert len({m.media_group_id for m in sent}) == 1 and [m.caption for m in sent] == ["all", None, None]
    replies = fake_telegram.messages_in(dm)
    assert len({m.media_group_id for m in replies}) == 1 and replies[0].media_group_id is not None
    assert [m.caption for m in replies] == ["3 results", None, None]
    assert [m.image().size for m in replies] == [(600, 400), (300, 200), (90, 60)]
    call = fake_telegram.calls("sendMediaGroup")[0]
    assert len(call.files) == 3 and all(
        item["media"].startswith("attach://") for item in call.params["media"]
    )


async def test_document_round_trip_and_download_limit(fake_telegram: FakeTelegram) -> None:
    async def on_document(update: Update, context: Context) -> None:
        message = update.message
        assert message is not None and message.document is not None
        try:
            file = await message.document.get_file()
        except BadRequest as exc:
            await message.reply_text(f"Too big: {exc.message}")
            return
        data = await file.download_as_bytearray()
        await message.reply_document(bytes(data), filename=f"edited-{message.document.file_name}")

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    dan = fake_telegram.user(1004, "Dan", language_code="zh-hans")
    dm = fake_telegram.private_chat(dan)
    original = two_tone(64, 32)

    async with ptb_polling(app):
        small = fake_telegram.send_document(dm, dan, original, "cat.png", caption="full res please")
        back = await fake_telegram.wait_for_message(dm, after=small)
        huge = fake_telegram.send_document(dm, dan, b"x", "huge.png", "image/png", file_size=25 * 1024 * 1024)
        refusal = await fake_telegram.wait_for_message(dm, after=huge)

    assert (
        back.document == original and back.document_name == "edited-cat.png" and back.mime_type == "image/png"
    )
    assert back.raw["document"]["thumbnail"]["width"] == 64
    assert refusal.text == "Too big: File is too big"


async def test_commands_and_chat_queries(fake_telegram: FakeTelegram) -> None:
    owner, admin, member = (fake_telegram.user(i) for i in (11, 12, 13))
    team = fake_telegram.group("Team", member, admins=[owner, admin])
    app = build_app(fake_telegram)
    async with app:
        bot = app.bot
        await bot.set_my_commands([BotCommand("edit", "Edit a photo"), BotCommand("quota", "Show quota")])
        await bot.set_my_commands([BotCommand("edit", "Bearbeiten")], language_code="de")
        await bot.set_my_commands(
            [BotCommand("edit", "Edit in groups")], scope=BotCommandScopeAllGroupChats()
        )
        assert [c.command for c in await bot.get_my_commands()] == ["edit", "quota"]
        assert [c.description for c in await bot.get_my_commands(language_code="de")] == ["Bearbeiten"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Edit Photo", "bad name")])
        admins = await bot.get_chat_administrators(team.id)
        me = await bot.get_chat_member(team.id, member.id)
        stranger = await bot.get_chat_member(team.id, fake_telegram.user(14).id)
        with pytest.raises(BadRequest, match=r"^User not found$"):
            await bot.get_chat_member(team.id, 99)
        chat = await bot.get_chat(team.id)
        await bot.delete_my_commands(language_code="de")

    assert fake_telegram.commands() == [
        {"command": "edit", "description": "Edit a photo"},
        {"command": "quota", "description": "Show quota"},
    ]
    assert fake_telegram.commands({"type": "all_group_chats"})[0]["description"] == "Edit in groups"
    assert fake_telegram.commands(language_code="de") == []
    assert [(a.status, a.user.id) for a in admins] == [("creator", owner.id), ("administrator", admin.id)]
    assert me.status == "member" and stranger.status == "left"
    assert chat.type == "supergroup" and chat.title == "Team"


async def test_group_privacy_mode(fake_telegram: FakeTelegram) -> None:
    seen: list[str] = []

    async def record(update: Update, context: Context) -> None:
        assert update.message is not None
        seen.append(update.message.text or update.message.caption or "")

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.ALL, record))
    erin, frank = fake_telegram.user(21, "Erin"), fake_telegram.user(22, "Frank")
    team = fake_telegram.group("Photos", erin, frank)
    name = fake_telegram.bot.username

    async with ptb_polling(app):
        fake_telegram.send_text(team, erin, "just chatting")
        fake_telegram.send_text(team, erin, "/edit@other_bot")
        fake_telegram.send_photo(team, frank, two_tone(40, 40), caption=f"@{name} fix this")
        fake_telegram.send_text(team, erin, "/done")
        await fake_telegram.wait_for(lambda: "/done" in seen)

    assert seen == [f"@{name} fix this", "/done"]  # privacy mode, as BotFather sets it by default
    assert len(fake_telegram.messages_in(team, include_user_messages=True)) == 4


async def test_edits_deletions_and_error_wording(fake_telegram: FakeTelegram) -> None:
    gina = fake_telegram.user(31, "Gina")
    dm = fake_telegram.private_chat(gina)
    app = build_app(fake_telegram)
    async with app:
        bot = app.bot
        status = await bot.send_message(dm.id, "Working 😀 step 1")
        await bot.edit_message_text("Working… step 2", dm.id, status.message_id)
        with pytest.raises(BadRequest, match=r"^Message is not modified"):
            await bot.edit_message_text("Working… step 2", dm.id, status.message_id)
        with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
            await bot.edit_message_text("x", dm.id, 999)
        with pytest.raises(BadRequest, match="only emulates plain text"):  # editbot sends no markup
            await bot.send_message(dm.id, "<b>Done</b>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message(123456, "hello?")
        doomed = await bot.send_message(dm.id, "temporary")
        assert await bot.delete_message(dm.id, doomed.message_id)
        with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
            await bot.delete_message(dm.id, doomed.message_id)
        fake_telegram.block_bot(gina)
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(dm.id, "still there?")
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")

    assert status.text == "Working 😀 step 1" and not status.entities
    shown = fake_telegram.messages_in(dm)
    assert [m.text for m in shown] == ["Working… step 2"] and shown[0].edited
    assert fake_telegram.messages_in(dm, include_deleted=True)[-1].deleted
    failures = [(c.method, c.status) for c in fake_telegram.bot_calls if not c.ok]
    assert ("editMessageText", 400) in failures and ("sendMessage", 403) in failures
    assert ("noSuchMethod", 404) in failures


async def test_bad_token_is_rejected(fake_telegram: FakeTelegram) -> None:
    bot = Bot("123456:" + "A" * 35, base_url=fake_telegram.api_url)
    try:
        with pytest.raises(InvalidToken, match="rejected by the server"):
            await bot.initialize()
    finally:
        await bot.shutdown()  # initialize() opened the HTTP pools before the token was refused
    assert fake_telegram.bot_calls == []  # unknown tokens never reach the method handlers


async def test_rate_limiter_rides_out_429(fake_telegram: FakeTelegram) -> None:
    app = build_app(fake_telegram, rate_limiter=AIORateLimiter(max_retries=3))
    app.add_handler(MessageHandler(filters.TEXT, echo))
    hana = fake_telegram.user(41, "Hana")
    dm = fake_telegram.private_chat(hana)
    fake_telegram.flood.inject(2, retry_after=0.01, method="sendMessage", chat=dm)

    async with ptb_polling(app):
        sent = fake_telegram.send_text(dm, hana, "flood me")
        await fake_telegram.wait_for_message(dm, after=sent)

    fake_telegram.flood.inject(1, retry_after=3)
    async with Bot(fake_telegram.token, base_url=fake_telegram.api_url) as plain_bot:
        with pytest.raises(RetryAfter) as raised:  # without a rate limiter the 429 reaches the caller
            await plain_bot.send_message(dm.id, "direct")

    assert [c.status for c in fake_telegram.calls("sendMessage")] == [429, 429, 200, 429]
    assert raised.value.retry_after.total_seconds() == 3  # type: ignore[union-attr]
    assert [m.text for m in fake_telegram.messages_in(dm)] == ["FLOOD ME"]


async def test_raw_wire_protocol_and_long_poll_semantics(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    ivan = fake.user(61, "Ivan")
    dm = fake.private_chat(ivan)
    base = f"{fake.api_url}{fake.token}"

    async with aiohttp.ClientSession() as http:

        async def call(method: str, **params: Any) -> tuple[int, dict[str, Any]]:
            async with http.post(f"{base}/{method}", data=params) as response:  # urlencoded, like PTB
                return response.status, await response.json()

        waiting = asyncio.create_task(call("getUpdates", timeout="30"))
        await fake.wait_for(fake.is_polling)
        fake.send_text(dm, ivan, "wake up")
        status, body = await asyncio.wait_for(waiting, 5)  # answered on arrival, not after 30 s
        assert status == 200 and body["result"][0]["message"]["text"] == "wake up"
        first_id = body["result"][0]["update_id"]

        fake.send_text(dm, ivan, "two")
        fake.send_text(dm, ivan, "three")
        assert len((await call("getUpdates"))[1]["result"]) == 3  # nothing confirmed yet
        assert [
            u["update_id"]
            for u in (await call("getUpdates", offset=str(first_id + 1), limit="1"))[1]["result"]
        ] == [first_id + 1]
        assert [u["message"]["text"] for u in (await call("getUpdates", offset="-1"))[1]["result"]] == [
            "three"
        ]

        older = asyncio.create_task(call("getUpdates", offset=str(first_id + 3), timeout="30"))
        await fake.wait_for(fake.is_polling)
        assert (await call("getUpdates", offset=str(first_id + 3)))[1]["result"] == []
        assert await older == (
            409,
            {
                "ok": False,
                "error_code": 409,
                "description": "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            },
        )

        async with http.get(f"{base}/getMe") as response:  # GET works too
            assert (await response.json())["result"]["username"] == fake.bot.username
        async with http.post(f"{base}/sendMessage", json={"chat_id": dm.id, "text": "json body"}) as response:
            assert (await response.json())["result"]["text"] == "json body"
        form = aiohttp.FormData()
        form.add_field("chat_id", str(dm.id))
        form.add_field("photo", two_tone(30, 20, "JPEG"), filename="p.jpg", content_type="image/jpeg")
        async with http.post(f"{base}/sendPhoto", data=form) as response:
            photo = (await response.json())["result"]["photo"]
        status, file_info = await call("getFile", file_id=photo[-1]["file_id"])
        async with http.get(f"{fake.file_url}{fake.token}/{file_info['result']['file_path']}") as response:
            assert response.status == 200 and Image.open(io.BytesIO(await response.read())).size == (30, 20)
        assert (await call("getUpdates", allowed_updates='["callback_query"]'))[0] == 200
        fake.send_text(dm, ivan, "filtered out")
        assert (await call("getUpdates", offset="-1"))[1]["result"] == []
        async with http.post(f"{fake.api_url}{fake.token[:-1]}x/getMe") as response:
            assert response.status == 401 and (await response.json())["description"] == "Unauthorized"


async def test_webhook_mode(fake_telegram: FakeTelegram) -> None:
    async def start(update: Update, context: Context) -> None:
        assert update.message is not None
        await update.message.reply_text("Welcome!")

    app = build_app(fake_telegram)
    app.add_handler(CommandHandler("start", start))
    judy = fake_telegram.user(71, "Judy")
    dm = fake_telegram.private_chat(judy)
    port = free_port()
    secret = "s3cr3t-token_ok"

    async with ptb_webhook(app, port=port, url_path="tg-hook", secret_token=secret) as url:
        sent = fake_telegram.send_text(dm, judy, "/start")
        welcome = await fake_telegram.wait_for_message(dm, after=sent)
        wrong = await fake_telegram.forge_webhook_post(secret_token="guess")
        missing = await fake_telegram.forge_webhook_post(secret_token=None)
        info = await app.bot.get_webhook_info()
        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()

    assert welcome.text == "Welcome!"
    assert (wrong, missing) == (403, 403)
    assert info.url == url == f"http://127.0.0.1:{port}/tg-hook" and info.pending_update_count == 0
    assert [(d.status, d.error) for d in fake_telegram.webhook_deliveries] == [(200, None)]
    assert fake_telegram.calls("setWebhook")[0].params["secret_token"] == secret
    assert [m.text for m in fake_telegram.messages_in(dm)] == ["Welcome!"]  # the forged /start did nothing


async def test_waiters_fail_loudly(fake_telegram: FakeTelegram) -> None:
    kim = fake_telegram.user(81, "Kim")
    dm = fake_telegram.private_chat(kim)
    predicate: Callable[[], bool] = lambda: False  # noqa: E731
    with pytest.raises(AssertionError, match=r"timed out after 0.05s"):
        await fake_telegram.wait_for(predicate, timeout=0.05)
    with pytest.raises(ValueError, match="no such callback button"):
        fake_telegram.press_button(dm, kim, fake_telegram.send_text(dm, kim, "hi"), "nope")


async def test_forum_threads_replies_and_user_edits(fake_telegram: FakeTelegram) -> None:
    edits: list[str] = []

    async def on_command(update: Update, context: Context) -> None:
        assert update.message is not None
        await update.message.reply_text("Send the photo as a reply to me")

    async def on_reply(update: Update, context: Context) -> None:
        assert update.message is not None
        await update.message.reply_text(f"Got: {update.message.text}")

    async def on_edit(update: Update, context: Context) -> None:
        assert update.edited_message is not None and update.edited_message.text is not None
        edits.append(update.edited_message.text)

    app = build_app(fake_telegram)
    app.add_handler(CommandHandler("edit", on_command))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edit))
    app.add_handler(MessageHandler(filters.REPLY & filters.TEXT, on_reply))
    lena = fake_telegram.user(91, "Lena")
    forum = fake_telegram.group("Studio", lena, forum=True)

    async with ptb_polling(app):
        command = fake_telegram.send_text(forum, lena, "/edit", thread_id=7)
        prompt = await fake_telegram.wait_for_message(forum, after=command)
        answer = fake_telegram.reply(forum, lena, prompt, "brighter please")
        await fake_telegram.wait_for_message(forum, after=answer)
        fake_telegram.edit_text(forum, lena, answer, "much brighter please")
        await fake_telegram.wait_for(lambda: edits)

    prompt_now, got = fake_telegram.messages_in(forum)
    assert (prompt_now.thread_id, prompt_now.reply_to_message_id) == (7, command.message_id)
    assert got.text == "Got: brighter please" and got.reply_to_message_id == answer.message_id
    assert edits == ["much brighter please"]


async def test_webhook_delivery_retries_until_the_bot_listens(fake_telegram: FakeTelegram) -> None:
    port = free_port()
    mona = fake_telegram.user(95, "Mona")
    dm = fake_telegram.private_chat(mona)
    async with Bot(fake_telegram.token, base_url=fake_telegram.api_url) as bot:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook")  # nobody listens there yet
        sent = fake_telegram.send_text(dm, mona, "are you there?")
        await fake_telegram.wait_for(lambda: fake_telegram.webhook_deliveries)
        info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and (info.last_error_message or "").startswith("Connection failed")

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with ptb_webhook(app, port=port, url_path="hook"):
        reply = await fake_telegram.wait_for_message(dm, after=sent)
    assert reply.text == "ARE YOU THERE?"
    assert fake_telegram.webhook_deliveries[-1].status == 200 and fake_telegram.bot.pending == []


async def test_validation_errors_match_telegram(fake_telegram: FakeTelegram) -> None:
    nina = fake_telegram.user(97, "Nina")
    dm = fake_telegram.private_chat(nina)
    button = InlineKeyboardMarkup([[InlineKeyboardButton("Retry", callback_data="retry")]])
    async with Bot(fake_telegram.token, base_url=fake_telegram.api_url) as bot:
        photo = await bot.send_photo(dm.id, two_tone(40, 30), reply_markup=button)
        expectations: list[tuple[Callable[[], Awaitable[Any]], str]] = [
            (lambda: bot.send_message(dm.id, "x" * 4097), "Message is too long"),
            (lambda: bot.send_message(dm.id, "   "), "Message text is empty"),
            (
                lambda: bot.send_photo(dm.id, two_tone(40, 30), caption="c" * 1025),
                "Message caption is too long",
            ),
            (lambda: bot.send_photo(dm.id, two_tone(2100, 100)), "Photo_invalid_dimensions"),
            (lambda: bot.send_photo(dm.id, b"not an image"), "Image_process_failed"),
            (lambda: bot.send_document(dm.id, photo.photo[-1].file_id), "Type of file mismatch"),
            (
                lambda: bot.edit_message_text("new", dm.id, photo.message_id),
                "There is no text in the message to edit",
            ),
            (
                lambda: bot.edit_message_reply_markup(dm.id, photo.message_id, reply_markup=button),
                "Message is not modified",
            ),
            (
                lambda: bot.send_message(
                    dm.id,
                    "x",
                    reply_markup=InlineKeyboardMarkup(
                        [[InlineKeyboardButton("Too long", callback_data="d" * 65)]]
                    ),
                ),
                "Button_data_invalid",
            ),
            (
                lambda: bot.send_message(dm.id, "x", reply_to_message_id=999),
                "Message to be replied not found",
            ),
            (
                lambda: bot.answer_callback_query("42"),
                "Query is too old and response timeout expired or query id is invalid",
            ),
            (lambda: bot.get_file("nope"), "Invalid file_id"),
        ]
        for request, message in expectations:
            with pytest.raises(BadRequest) as raised:
                await request()
            assert raised.value.message.startswith(message)
        assert await bot.edit_message_reply_markup(
            dm.id, photo.message_id
        )  # removing the keyboard is a change

    assert fake_telegram.messages_in(dm)[0].buttons == []
    assert len(fake_telegram.messages_in(dm)) == 1  # no refused call left anything behind


async def test_handler_exceptions_fail_the_test_instead_of_a_timeout(fake_telegram: FakeTelegram) -> None:
    async def broken(update: Update, context: Context) -> None:
        assert update.message is not None
        await update.message.reply_chat_action(ChatAction.TYPING)
        raise RuntimeError("boom")

    app = build_app(fake_telegram)
    app.add_handler(MessageHandler(filters.TEXT, broken))
    omar = fake_telegram.user(99, "Omar")
    dm = fake_telegram.private_chat(omar)

    with pytest.raises(AssertionError, match="1 exception") as raised:
        async with ptb_polling(app):
            fake_telegram.send_text(dm, omar, "hi")
            await fake_telegram.wait_for(lambda: fake_telegram.chat_actions(dm))
            await fake_telegram.wait_for_call("sendChatAction")
    assert isinstance(raised.value.__cause__, RuntimeError)
