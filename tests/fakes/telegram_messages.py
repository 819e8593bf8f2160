"""Message methods of the fake Bot API: send, edit, delete, chat actions, callback answers, files.

Invariants: a handler validates every parameter before it changes state (files are stored only once the
call is known to succeed), so a refused call leaves nothing behind; edits keep the previous wire form in
the message's history; descriptions are Telegram's own wording.
"""

from __future__ import annotations

import asyncio
import copy
import io
import mimetypes
from collections.abc import Callable
from typing import TYPE_CHECKING

from PIL import Image

from .telegram_entities import strip_text, utf16_len
from .telegram_model import JSON, BotAccount, FakeChat, StoredFile, StoredMessage, UploadedFile, canonical
from .telegram_wire import (
    BUTTON_ACTIONS,
    CHAT_ACTIONS,
    DOWNLOAD_LIMIT,
    NOT_MODIFIED,
    PHOTO_UPLOAD_LIMIT,
    UPLOAD_LIMIT,
    ApiError,
    Params,
    method,
)

if TYPE_CHECKING:
    from .telegram_server import FakeTelegram


def chat_of(tg: FakeTelegram, p: Params) -> FakeChat:
    """The chat a chat_id parameter names (400 "chat not found" otherwise)."""
    chat = tg.find_chat(p.chat_id())
    if chat is None:
        raise ApiError(400, "Bad Request: chat not found")
    return chat


def _writable_chat(tg: FakeTelegram, p: Params) -> FakeChat:
    chat = chat_of(tg, p)
    if chat.user is not None and chat.user.blocked_bot:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if chat.bot_kicked:
        raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
    thread_id = p.integer("message_thread_id")
    if thread_id and not chat.is_forum:
        raise ApiError(400, "Bad Request: message thread not found")
    return chat


def _reply_target(tg: FakeTelegram, chat: FakeChat, p: Params) -> StoredMessage | None:
    params = p.obj("reply_parameters") or {}
    message_id = params.get("message_id") or p.integer("reply_to_message_id")
    if not message_id:
        return None
    target_chat = tg.find_chat(params["chat_id"]) if params.get("chat_id") else chat
    message = target_chat.messages.get(int(message_id)) if target_chat else None
    if message is None or message.deleted:
        if params.get("allow_sending_without_reply") or p.flag("allow_sending_without_reply"):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")
    return message


def _inline_markup(p: Params) -> JSON | None:
    markup = p.obj("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None  # reply keyboards are shown to the user but never echoed in the Message object
    rows = markup["inline_keyboard"]
    for button in (b for row in rows for b in row):
        if not button.get("text"):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
        if not any(k in button for k in BUTTON_ACTIONS):
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: Text buttons are unallowed "
                "in the inline keyboard",
            )
        if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup if any(rows) else None


def _formatted(
    p: Params, key: str, entities_key: str, parse_key: str = "parse_mode"
) -> tuple[str, list[JSON]]:
    if p.text(parse_key):
        raise ApiError(400, "Bad Request: the fake only emulates plain text (no parse_mode)")
    return strip_text(p.text(key) or "", list(p.obj(entities_key) or ()))


def _caption(p: Params) -> JSON:
    caption, entities = _formatted(p, "caption", "caption_entities")
    if utf16_len(caption) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")
    content: JSON = {}
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
    if p.flag("show_caption_above_media"):
        content["show_caption_above_media"] = True
    return content


def _source(p: Params, name: str, value: str | None = None) -> UploadedFile | str:
    """The uploaded part or the file_id a file field refers to (not yet validated)."""
    if value is None:
        if name in p.files:
            return p.files[name]
        value = p.text(name)
    if not value:
        raise ApiError(400, f"Bad Request: there is no {name} in the request")
    if value.startswith("attach://"):
        part = p.files.get(value.removeprefix("attach://"))
        if part is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return part
    if value.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: failed to get HTTP URL content (the fake does not fetch URLs)")
    return value


def _existing(tg: FakeTelegram, file_id: str, kind: str) -> StoredFile:
    stored = tg.files.get(file_id)
    if stored is None:
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
    if stored.kind != kind or (kind == "document" and stored.document is None):
        raise ApiError(400, "Bad Request: type of file mismatch")
    return stored


def _photo(tg: FakeTelegram, source: UploadedFile | str) -> list[JSON]:
    if isinstance(source, str):
        return copy.deepcopy(_existing(tg, source, "photo").photo_group or [])
    data = source.data
    if not data:
        raise ApiError(400, "Bad Request: file must be non-empty")
    if len(data) > PHOTO_UPLOAD_LIMIT:
        raise ApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
    if width + height > 10_000 or max(width, height) > 20 * min(width, height):
        raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    return tg.files.photo_sizes(data)


def _document(tg: FakeTelegram, source: UploadedFile | str) -> JSON:
    if isinstance(source, str):
        return copy.deepcopy(_existing(tg, source, "document").document or {})
    if len(source.data) > UPLOAD_LIMIT:
        raise ApiError(413, "Request Entity Too Large")
    file_name = source.filename or "document"
    mime = source.content_type
    if mime in ("", "application/octet-stream"):
        mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    stored = tg.files.add(source.data, "document", file_name.rpartition(".")[2] or "bin")
    document: JSON = {
        "file_name": file_name,
        "mime_type": mime,
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if mime.startswith("image/") and (thumb := tg.files.thumbnail(source.data)):
        document["thumbnail"] = thumb
    stored.document = document
    return document


def _send(tg: FakeTelegram, bot: BotAccount, chat: FakeChat, p: Params, build: Callable[[], JSON]) -> JSON:
    """Validate the common parameters, then build the content (which may store files) and post it."""
    reply_to = _reply_target(tg, chat, p)
    markup = _inline_markup(p)
    content = build()
    if markup:
        content["reply_markup"] = markup
    if p.flag("protect_content"):
        content["has_protected_content"] = True
    message = tg.new_message(
        chat, content, bot=bot, reply_to=reply_to, thread_id=p.integer("message_thread_id")
    )
    return message.raw


def _editable(tg: FakeTelegram, bot: BotAccount, p: Params) -> StoredMessage:
    if p.text("inline_message_id"):
        raise ApiError(400, "Bad Request: the fake does not emulate inline messages")
    chat = chat_of(tg, p)
    message_id = p.integer("message_id")
    if not message_id:
        raise ApiError(400, "Bad Request: message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise ApiError(400, "Bad Request: message to edit not found")
    if message.bot is not bot:
        raise ApiError(400, "Bad Request: message can't be edited")
    return message


def _commit_edit(
    tg: FakeTelegram, message: StoredMessage, new: JSON, markup: JSON | None, keys: tuple[str, ...]
) -> JSON:
    new = {k: v for k, v in new.items() if k != "reply_markup"}
    if markup:
        new["reply_markup"] = markup
    compared = (*keys, "reply_markup")
    if canonical([new.get(k) for k in compared]) == canonical([message.raw.get(k) for k in compared]):
        raise ApiError(400, NOT_MODIFIED)
    new["edit_date"] = int(tg.clock())
    message.replace(new)
    tg.changed.fire()
    return new


@method("sendMessage")
async def send_message(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = _writable_chat(tg, p)
    text, entities = _formatted(p, "text", "entities")
    if not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return _send(tg, bot, chat, p, lambda: content)


@method("sendPhoto")
async def send_photo(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = _writable_chat(tg, p)
    caption, source, spoiler = _caption(p), _source(p, "photo"), p.flag("has_spoiler")

    def build() -> JSON:
        content: JSON = {"photo": _photo(tg, source), **caption}
        if spoiler:
            content["has_media_spoiler"] = True
        return content

    return _send(tg, bot, chat, p, build)


@method("sendDocument")
async def send_document(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = _writable_chat(tg, p)
    caption, source = _caption(p), _source(p, "document")
    return _send(tg, bot, chat, p, lambda: {"document": _document(tg, source), **caption})


def _sticker(tg: FakeTelegram, source: UploadedFile | str) -> JSON:
    """A static sticker from an upload (see ``FileStore.sticker``)."""
    if isinstance(source, str):
        raise ApiError(400, "Bad Request: the fake only emulates uploaded stickers")
    try:
        return tg.files.sticker(source.data)
    except ValueError as exc:
        raise ApiError(400, f"Bad Request: {exc}") from None


@method("sendSticker")
async def send_sticker(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    chat = _writable_chat(tg, p)
    source = _source(p, "sticker")
    return _send(tg, bot, chat, p, lambda: {"sticker": _sticker(tg, source)})


@method("sendMediaGroup")
async def send_media_group(tg: FakeTelegram, bot: BotAccount, p: Params) -> list[JSON]:
    chat = _writable_chat(tg, p)
    media = p.obj("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise ApiError(400, "Bad Request: wrong number of media items")
    kinds = {item.get("type") for item in media}
    if not kinds <= {"photo", "document"}:
        raise ApiError(400, "Bad Request: the fake only emulates photo and document media")
    if "document" in kinds and len(kinds) > 1:
        raise ApiError(400, "Bad Request: document can't be mixed with other media types")
    reply_to = _reply_target(tg, chat, p)
    items = []
    for item in media:
        sub = Params(
            {
                k: v
                for k, v in item.items()
                if k in ("caption", "parse_mode", "caption_entities", "show_caption_above_media")
            },
            {},
        )
        items.append((item["type"], _source(p, "media", item.get("media")), _caption(sub)))
    contents = [
        {kind: _photo(tg, source) if kind == "photo" else _document(tg, source), **caption}
        for kind, source, caption in items
    ]
    group_id = str(14_000_000_000_000_000 + tg.next_seq())
    thread_id = p.integer("message_thread_id")
    return [
        tg.new_message(
            chat, {"media_group_id": group_id, **c}, bot=bot, reply_to=reply_to, thread_id=thread_id
        ).raw
        for c in contents
    ]


@method("editMessageText")
async def edit_message_text(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    message = _editable(tg, bot, p)
    if "text" not in message.raw:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    text, entities = _formatted(p, "text", "entities")
    if not text:
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    new = {k: v for k, v in message.raw.items() if k != "entities"}
    new["text"] = text
    if entities:
        new["entities"] = entities
    return _commit_edit(tg, message, new, _inline_markup(p), ("text", "entities"))


@method("editMessageCaption")
async def edit_message_caption(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    message = _editable(tg, bot, p)
    if "text" in message.raw:
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    new = {
        k: v
        for k, v in message.raw.items()
        if k not in ("caption", "caption_entities", "show_caption_above_media")
    }
    new.update(_caption(p))
    return _commit_edit(tg, message, new, _inline_markup(p), ("caption", "caption_entities"))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    message = _editable(tg, bot, p)
    return _commit_edit(tg, message, dict(message.raw), _inline_markup(p), ())


@method("editMessageMedia")
async def edit_message_media(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    message = _editable(tg, bot, p)
    media = p.obj("media") or {}
    kind = media.get("type")
    if kind not in ("photo", "document"):
        raise ApiError(400, "Bad Request: the fake only emulates photo/document media edits")
    source = _source(p, "media", media.get("media"))
    sub = Params({k: v for k, v in media.items() if k in ("caption", "parse_mode", "caption_entities")}, {})
    # Bot API 9: media may also be added to a text message (its text gives way to the caption).
    gone = ("photo", "document", "caption", "caption_entities", "text", "entities", "link_preview_options")
    new = {k: v for k, v in message.raw.items() if k not in gone}
    # Resizing into photo sizes is the fake's heaviest work: off the loop the bot shares.
    shown = await asyncio.to_thread(_photo, tg, source) if kind == "photo" else _document(tg, source)
    new.update({kind: shown, **_caption(sub)})
    return _commit_edit(
        tg, message, new, _inline_markup(p), ("photo", "document", "caption", "caption_entities")
    )


def _delete(tg: FakeTelegram, bot: BotAccount, chat: FakeChat, message_id: int) -> None:
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise ApiError(400, "Bad Request: message to delete not found")
    if message.bot is not bot and not chat.is_private and not chat.bot_is_admin:
        raise ApiError(400, "Bad Request: message can't be deleted")
    message.deleted = True
    tg.changed.fire()


@method("deleteMessage")
async def delete_message(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    chat = chat_of(tg, p)
    _delete(tg, bot, chat, p.integer("message_id") or 0)
    return True


@method("deleteMessages")
async def delete_messages(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    chat = chat_of(tg, p)
    for message_id in p.obj("message_ids") or []:
        if (m := chat.messages.get(int(message_id))) is not None and not m.deleted:
            _delete(tg, bot, chat, int(message_id))
    return True


@method("sendChatAction")
async def send_chat_action(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    chat = _writable_chat(tg, p)
    action = p.text("action")
    if action not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    chat.actions.append(action)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(tg: FakeTelegram, bot: BotAccount, p: Params) -> bool:
    handle = tg.callback_queries.get(p.text("callback_query_id") or "")
    if handle is None or handle.answered:
        raise ApiError(
            400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
        )
    answer: JSON = {"show_alert": p.flag("show_alert")}
    for key in ("text", "url"):
        if (value := p.text(key)) is not None:
            answer[key] = value
    handle.answered, handle.answer = True, answer
    return True


@method("getFile")
async def get_file(tg: FakeTelegram, bot: BotAccount, p: Params) -> JSON:
    stored = tg.files.get(p.text("file_id") or "")
    if stored is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    if stored.size > DOWNLOAD_LIMIT:
        raise ApiError(400, "Bad Request: file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }
