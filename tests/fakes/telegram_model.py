"""State of the fake Bot API: accounts, chats, stored files and messages, and the snapshots tests inspect.

Invariants: a message's ``raw`` dict is exactly what the Bot API would serialise for it (its current state
after edits); ``ChatMessage``/``BotCall`` handed to tests are snapshots that never change afterwards; file
bytes live only in ``FileStore`` and messages refer to them by ``file_id`` like the real server.
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

JSON = dict[str, Any]

PHOTO_STEPS = (90, 320, 800, 1280)
PHOTO_MAX_SIDE = 2560
JPEG_QUALITY = 87


@dataclass(eq=False)
class FakeUser:
    """A Telegram user the test controls."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False
    blocked_bot: bool = False

    def to_dict(self) -> JSON:
        """The ``User`` object as the Bot API sends it."""
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(eq=False)
class BotAccount:
    """One bot token served by the fake, with its own update queue, commands and webhook."""

    id: int
    token: str
    username: str
    first_name: str
    privacy_mode: bool = True
    pending: list[JSON] = field(default_factory=list)
    next_update_id: int = 100_000_001
    allowed_updates: list[str] | None = None
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    webhook: WebhookConfig | None = None

    def to_dict(self) -> JSON:
        """The bot as the ``from`` of its own messages."""
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}


@dataclass(eq=False)
class WebhookConfig:
    """What setWebhook stored; the error fields feed getWebhookInfo."""

    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None
    has_custom_certificate: bool
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(eq=False)
class FakeChat:
    """A private chat, group or supergroup; message ids are counted per chat like Telegram does."""

    id: int
    type: str
    title: str | None = None
    user: FakeUser | None = None
    username: str | None = None
    is_forum: bool = False
    members: dict[int, FakeUser] = field(default_factory=dict)
    admins: list[int] = field(default_factory=list)
    owner_id: int | None = None
    bot_is_admin: bool = False
    bot_kicked: bool = False
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with a user."""
        return self.type == "private"

    def to_dict(self) -> JSON:
        """The ``Chat`` object embedded in messages."""
        data: JSON = {"id": self.id, "type": self.type}
        if self.user is not None:
            data.update(
                {k: v for k, v in self.user.to_dict().items() if k in ("first_name", "last_name", "username")}
            )
        else:
            data["title"] = self.title
            if self.username:
                data["username"] = self.username
            if self.is_forum:
                data["is_forum"] = True
        return data


@dataclass(eq=False)
class StoredFile:
    """Bytes the fake holds for a file_id (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str  # "photo" or "document"
    declared_size: int | None = None
    photo_group: list[JSON] | None = None  # for photos: the whole PhotoSize array this size belongs to
    document: JSON | None = None  # for documents: the Document object, reused when sent again by file_id

    @property
    def size(self) -> int:
        """What Telegram reports as file_size (a test may declare a larger size than the bytes held)."""
        return self.declared_size if self.declared_size is not None else len(self.data)


class FileStore:
    """All files, addressable by file_id and by file_path; ids are deterministic per run."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)
        self._photo_renditions: dict[bytes, list[tuple[bytes, int, int]]] = {}
        self._thumbnails: dict[bytes, tuple[bytes, int, int] | None] = {}

    def add(self, data: bytes, kind: str, extension: str, declared_size: int | None = None) -> StoredFile:
        """Store bytes and mint a file_id / file_unique_id / file_path for them."""
        n = next(self._counter)
        digest = hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()
        prefix = "AgACAgIAAxkBAAI" if kind == "photo" else "BQACAgIAAxkBAAI"
        stored = StoredFile(
            file_id=f"{prefix}{digest[:48]}",
            file_unique_id=f"AQAD{digest[48:60]}",
            data=data,
            file_path=f"{kind}s/file_{n}.{extension}",
            kind=kind,
            declared_size=declared_size,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """Look a file up by file_id."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """Look a file up by the file_path getFile returned."""
        return self._by_path.get(file_path)

    def photo_sizes(self, data: bytes) -> list[JSON]:
        """Turn image bytes into a Telegram PhotoSize array: JPEG re-encodes at several sizes, smallest first.

        Like Telegram, the largest size is capped at 2560 px and is itself a recompressed JPEG.
        Raises ValueError for bytes Pillow cannot read.
        """
        sizes: list[JSON] = []
        for jpeg, width, height in self._renditions(data):
            stored = self.add(jpeg, "photo", "jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": stored.size,
                }
            )
        for size in sizes:
            self._by_id[size["file_id"]].photo_group = sizes
        return sizes

    def _renditions(self, data: bytes) -> list[tuple[bytes, int, int]]:
        """The JPEG sizes of an uploaded photo, made once per distinct upload (a burst of equal
        results would otherwise spend the fake's CPU, not the bot's, on re-encoding them)."""
        known = self._photo_renditions.get(data)
        if known is not None:
            return known
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
        longest = max(image.size)
        renditions = []
        for target in [s for s in PHOTO_STEPS if s < longest] + [min(longest, PHOTO_MAX_SIDE)]:
            scaled = image.copy()
            scaled.thumbnail((target, target), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            scaled.save(buffer, "JPEG", quality=JPEG_QUALITY)
            renditions.append((buffer.getvalue(), scaled.width, scaled.height))
        self._photo_renditions[data] = renditions
        return renditions

    def thumbnail(self, data: bytes) -> JSON | None:
        """A 320 px JPEG PhotoSize for an image document, or None when the bytes are not an image."""
        if data not in self._thumbnails:
            self._thumbnails[data] = _thumbnail(data)
        made = self._thumbnails[data]
        if made is None:
            return None
        # A file of its own per document, as Telegram gives; only the rendering is remembered (a
        # benchmark's equal results would otherwise spend the fake's CPU, not the bot's, on it).
        jpeg, width, height = made
        stored = self.add(jpeg, "photo", "jpg")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": stored.size,
        }

    def sticker(self, data: bytes, emoji: str | None = None) -> JSON:
        """Store a static sticker and describe it as a Bot API Sticker: a WebP (or PNG) whose longer
        side is exactly 512 pixels, as Telegram asks; ValueError with Telegram's error code if not."""
        try:
            with Image.open(io.BytesIO(data)) as image:
                fmt, (width, height) = image.format, image.size
        except (OSError, ValueError):
            raise ValueError("STICKER_PNG_NOPNG") from None
        if fmt not in ("WEBP", "PNG") or max(width, height) != 512:
            raise ValueError("STICKER_PNG_DIMENSIONS")
        stored = self.add(data, "sticker", "webp")
        sticker: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": width,
            "height": height,
            "is_animated": False,
            "is_video": False,
            "file_size": stored.size,
        }
        if emoji:
            sticker["emoji"] = emoji
        return sticker


@dataclass(eq=False)
class StoredMessage:
    """A message as the fake holds it: its current wire form plus bookkeeping."""

    raw: JSON
    chat: FakeChat
    bot: BotAccount | None  # the sending bot, None when a user sent it
    deleted: bool = False
    history: list[JSON] = field(default_factory=list)
    # The last snapshot and what it was taken of: edits replace ``raw`` (never mutate it), so an
    # unchanged ``raw``, flag and history mean an unchanged snapshot. Waiters re-read chats on
    # every change; deep-copying each message each time had cost a 200-user burst half its CPU.
    seen: tuple[JSON, bool, int, ChatMessage] | None = field(default=None, repr=False, compare=False)

    @property
    def message_id(self) -> int:
        """The per-chat message id."""
        return int(self.raw["message_id"])

    def replace(self, raw: JSON) -> None:
        """Record an edit: keep the previous wire form in history."""
        self.history.append(copy.deepcopy(self.raw))
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A multipart file part the bot uploaded."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ChatMessage:
    """A snapshot of one message as the user sees it; compare it, never mutate it."""

    message_id: int
    chat_id: int
    from_bot: bool
    sender_id: int
    text: str | None
    caption: str | None
    entities: list[JSON]
    photo: bytes | None
    photo_sizes: list[JSON]
    document: bytes | None
    document_name: str | None
    mime_type: str | None
    media_group_id: str | None
    reply_to_message_id: int | None
    thread_id: int | None
    reply_markup: JSON | None
    buttons: list[list[Button]]
    edited: bool
    deleted: bool
    history: list[JSON]
    raw: JSON

    @property
    def content(self) -> str | None:
        """Text for text messages, caption for media."""
        return self.text if self.text is not None else self.caption

    @property
    def button_texts(self) -> list[str]:
        """Every inline button label, row by row."""
        return [b.text for row in self.buttons for b in row]

    @property
    def file_id(self) -> str | None:
        """file_id of the largest photo size or of the document."""
        if self.photo_sizes:
            return str(self.photo_sizes[-1]["file_id"])
        document = self.raw.get("document")
        return str(document["file_id"]) if document else None

    def button(self, text: str) -> Button:
        """The button labelled ``text`` (AssertionError listing the labels when absent)."""
        for row in self.buttons:
            for b in row:
                if b.text == text:
                    return b
        raise AssertionError(f"no button {text!r} on message {self.message_id}; buttons: {self.button_texts}")

    def image(self) -> Image.Image:
        """The photo (largest size) or the document decoded with Pillow."""
        data = self.photo if self.photo is not None else self.document
        if data is None:
            raise AssertionError(f"message {self.message_id} has neither photo nor document")
        image = Image.open(io.BytesIO(data))
        image.load()
        return image


def snapshot(message: StoredMessage, files: FileStore) -> ChatMessage:
    """Freeze a stored message into what a user sees."""
    seen = message.seen
    if seen is not None and seen[0] is message.raw and seen[1:3] == (message.deleted, len(message.history)):
        return seen[3]
    taken = _freeze(message, files)
    message.seen = (message.raw, message.deleted, len(message.history), taken)
    return taken


def _freeze(message: StoredMessage, files: FileStore) -> ChatMessage:
    raw = copy.deepcopy(message.raw)
    sizes = raw.get("photo") or []
    photo = files.get(sizes[-1]["file_id"]) if sizes else None
    document_info = raw.get("document")
    document = files.get(document_info["file_id"]) if document_info else None
    markup = raw.get("reply_markup")
    buttons = [
        [Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row]
        for row in (markup or {}).get("inline_keyboard", [])
    ]
    sender = raw.get("from", {})
    return ChatMessage(
        message_id=message.message_id,
        chat_id=message.chat.id,
        from_bot=message.bot is not None,
        sender_id=int(sender.get("id", 0)),
        text=raw.get("text"),
        caption=raw.get("caption"),
        entities=raw.get("entities") or raw.get("caption_entities") or [],
        photo=photo.data if photo else None,
        photo_sizes=sizes,
        document=document.data if document else None,
        document_name=document_info.get("file_name") if document_info else None,
        mime_type=document_info.get("mime_type") if document_info else None,
        media_group_id=raw.get("media_group_id"),
        reply_to_message_id=(raw.get("reply_to_message") or {}).get("message_id"),
        thread_id=raw.get("message_thread_id"),
        reply_markup=markup,
        buttons=buttons,
        edited="edit_date" in raw,
        deleted=message.deleted,
        history=copy.deepcopy(message.history),
        raw=raw,
    )


@dataclass
class BotCall:
    """One Bot API request the bot made, as the fake decoded it."""

    method: str
    token: str
    params: JSON
    files: dict[str, UploadedFile]
    status: int = 200
    result: Any = None
    error: str | None = None
    at: float = field(default_factory=time.monotonic)  # when the call arrived (benchmarks)

    @property
    def ok(self) -> bool:
        """True when the fake answered ``{"ok": true}``."""
        return self.error is None

    @property
    def chat_id(self) -> int | str | None:
        """The chat_id parameter, as an int when numeric."""
        value = self.params.get("chat_id")
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return value


@dataclass(eq=False)
class CallbackQueryHandle:
    """A button press the test made; ``answered`` flips when the bot calls answerCallbackQuery."""

    id: str
    data: str
    message_id: int
    answered: bool = False
    answer: JSON | None = None

    @property
    def answer_text(self) -> str | None:
        """The notification text the bot answered with, if any."""
        return (self.answer or {}).get("text")


def canonical(value: Any) -> str:
    """A stable string for comparing JSON values (used for 'message is not modified')."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _thumbnail(data: bytes) -> tuple[bytes, int, int] | None:
    """A document's 320 px JPEG thumbnail and its size, or None when the bytes are not an image."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue(), image.width, image.height
