"""Core actions -> Telegram messages, and Telegram files -> bytes for the core.

Status messages are edited in place and deleted when the result arrives; the ``upload_photo``
chat action is renewed every few seconds while a job works (Telegram shows it for 5 s). Flood
limits are PTB's ``AIORateLimiter``'s business; the core already coalesces progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
    WebAppInfo,
)
from telegram.constants import ChatAction, FileSizeLimit, MessageLimit
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram_bot.stickers import sticker_webp
from adapters.telegram_bot.translate import photo_ref
from core import errors, i18n
from core.actions import (
    Action,
    Button,
    Delivered,
    OutputImage,
    Phase,
    SendError,
    SendImage,
    SendProgress,
    SendText,
    Text,
)
from core.events import Origin
from core.identity import Platform
from core.imaging import fit_for_upload
from core.refs import ImageRef

log = logging.getLogger(__name__)

PHOTO_MAX_BYTES = int(FileSizeLimit.PHOTOSIZE_UPLOAD)
PHOTO_MAX_SIDE_SUM = 10_000
# Telegram recompresses photos to at most this long side; larger results also go as a file.
PHOTO_DISPLAY_SIDE = 2560
DOCUMENT_MAX_BYTES = int(FileSizeLimit.FILESIZE_UPLOAD)
CAPTION_MAX = int(MessageLimit.CAPTION_LENGTH)
TEXT_MAX = int(MessageLimit.MAX_TEXT_LENGTH)
DOWNLOAD_MAX_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def keyboard(
    buttons: tuple[Button, ...], locale: str, painter: PainterLinks | None = None
) -> InlineKeyboardMarkup | None:
    """Inline buttons whose callback data names the action and the job, so they outlive restarts.

    A painter button opens the painter page instead (when the painter runs; else it is left out).
    """
    row = []
    for b in buttons:
        label = i18n.render(locale, b.label)
        if b.painter is not None:
            if painter is not None:
                row.append(painter.button(label, b.painter))
            continue
        row.append(InlineKeyboardButton(label, callback_data=f"{b.action}:{b.job_id}"))
    return InlineKeyboardMarkup([row]) if row else None


@dataclass(frozen=True, slots=True)
class PainterLinks:
    """How a "Draw on it" button opens the painter in one chat.

    Private chats take a ``web_app`` button (the Mini App opens with signed initData). Groups do not
    allow ``web_app`` buttons, so there the button is a t.me link that opens the bot's Main Mini App
    with ``startapp=<token>`` (set one up with @BotFather, see the README); the page finds the token
    in initData's ``start_param``.
    """

    base_url: str
    bot_username: str
    private: bool

    def page(self, token: str) -> str:
        """The page's URL with the token in the query (Telegram adds initData as the fragment)."""
        return f"{self.base_url}/painter/?t={token}"

    def button(self, label: str, token: str) -> InlineKeyboardButton:
        """The button for this chat."""
        if self.private:
            return InlineKeyboardButton(label, web_app=WebAppInfo(self.page(token)))
        return InlineKeyboardButton(label, url=f"https://t.me/{self.bot_username}?startapp={token}")


def _where(origin: Origin) -> dict[str, Any]:
    kw: dict[str, Any] = {"chat_id": int(origin.chat.chat_id)}
    if origin.chat.thread_id:
        kw["message_thread_id"] = int(origin.chat.thread_id)
    return kw


def _reply(origin: Origin) -> ReplyParameters | None:
    if origin.reply_to is None:
        return None
    return ReplyParameters(message_id=int(origin.reply_to), allow_sending_without_reply=True)


class TelegramOutbox:
    """Sends core actions with a PTB :class:`telegram.Bot`."""

    # sendPhoto takes up to 10 MB; larger results would have to go as documents only.
    upload_limit: int | None = 10 * 1000 * 1000

    def __init__(self, bot: Bot, painter_url: str | None = None) -> None:
        self._bot = bot
        self._painter_url = painter_url  # EDITBOT_WEB_URL: "Draw on it" buttons open the painter there
        self._status: dict[str, int] = {}
        self._typing: dict[str, asyncio.Task[None]] = {}

    async def send(self, action: Action) -> Delivered | None:
        """Show one action in its chat."""
        loc = action.origin.locale
        match action:
            case SendText(origin=origin, text=text, buttons=buttons):
                markup = keyboard(buttons, loc, self._painter(origin))
                await self.text(origin, i18n.render(loc, text), markup)
            case SendError(origin=origin, kind=kind, details=details):
                await self.text(origin, i18n.render(loc, kind, **details))
            case SendProgress():
                await self._progress(action)
            case SendImage():
                return await self._result(action)
        return None

    def _painter(self, origin: Origin) -> PainterLinks | None:
        if self._painter_url is None:
            return None
        return PainterLinks(self._painter_url, self._bot.username, origin.is_private)

    async def text(self, origin: Origin, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
        """A plain reply to the origin's message."""
        return await self._bot.send_message(
            text=cut(text, TEXT_MAX), reply_parameters=_reply(origin), reply_markup=markup, **_where(origin)
        )

    async def _progress(self, action: SendProgress) -> None:
        origin, job = action.origin, action.job_id
        if action.phase is Phase.DONE:
            await self._stop_typing(job)
            message_id = self._status.pop(job, None)
            if message_id is not None:
                with contextlib.suppress(TelegramError):
                    await self._bot.delete_message(chat_id=int(origin.chat.chat_id), message_id=message_id)
            return
        text = i18n.render(origin.locale, action.text)
        message_id = self._status.get(job)
        if message_id is None:
            message = await self.text(origin, text)
            self._status[job] = message.message_id
            self._typing[job] = asyncio.create_task(self._keep_typing(origin), name=f"typing-{job}")
            return
        try:
            await self._bot.edit_message_text(
                text=text, chat_id=int(origin.chat.chat_id), message_id=message_id
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise

    async def _keep_typing(self, origin: Origin) -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await self._bot.send_chat_action(action=ChatAction.UPLOAD_PHOTO, **_where(origin))
            await asyncio.sleep(4.5)

    async def _stop_typing(self, job: str) -> None:
        task = self._typing.pop(job, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _result(self, action: SendImage) -> Delivered:
        origin, loc = action.origin, action.origin.locale
        await self._stop_typing(action.job_id)
        markup = keyboard(action.buttons, loc)
        caption = cut(action.caption, CAPTION_MAX)
        photos = [await asyncio.to_thread(_as_photo, image) for image in action.images]
        try:
            if len(photos) == 1:
                sent = [
                    await self._bot.send_photo(
                        photo=photos[0].data,
                        caption=caption,
                        reply_markup=markup,
                        reply_parameters=_reply(origin),
                        **_where(origin),
                    )
                ]
            else:
                media = [
                    InputMediaPhoto(p.data, caption=caption if i == 0 else None, filename=p.filename)
                    for i, p in enumerate(photos)
                ]
                sent = list(
                    await self._bot.send_media_group(
                        media=media, reply_parameters=_reply(origin), **_where(origin)
                    )
                )
                if markup is not None:
                    await self.text(
                        origin, i18n.render(loc, Text("results_above", {"count": len(photos)})), markup
                    )
            refs = [photo_ref(m) for m in sent]
            for i, image in enumerate(action.images):
                # Only edit results come with the full-resolution file; a chart (no job) is just a photo.
                if action.job_id and (action.as_document or _needs_document(image, photos[i])):
                    doc = await self._send_document(origin, image, caption if len(photos) == 1 else None)
                    if doc is not None:
                        refs[i] = doc
                if action.cutout:
                    # A transparent cut-out is one tap away from the user's sticker pack.
                    sticker = await asyncio.to_thread(sticker_webp, image.data)
                    await self._bot.send_sticker(sticker=sticker, **_where(origin))
        except Forbidden as exc:
            raise errors.DeliveryFailed(str(exc)) from exc
        return Delivered(message_id=str(sent[0].message_id), images=tuple(r for r in refs if r is not None))

    async def _send_document(
        self, origin: Origin, image: OutputImage, caption: str | None
    ) -> ImageRef | None:
        if len(image.data) > DOCUMENT_MAX_BYTES:
            return None
        message = await self._bot.send_document(
            document=image.data,
            filename=image.filename,
            caption=caption,
            disable_content_type_detection=True,
            reply_parameters=_reply(origin),
            **_where(origin),
        )
        doc = message.document
        if doc is None:
            return None
        return ImageRef(
            Platform.TELEGRAM,
            doc.file_id,
            filename=doc.file_name,
            size=doc.file_size,
            mime=doc.mime_type,
            width=image.width,
            height=image.height,
            as_document=True,
        )


def _as_photo(image: OutputImage) -> OutputImage:
    return fit_for_upload(
        image.data, PHOTO_MAX_BYTES, max_side_sum=PHOTO_MAX_SIDE_SUM, name=image.filename.rsplit(".", 1)[0]
    )


def _needs_document(original: OutputImage, photo: OutputImage) -> bool:
    """Send the file too when Telegram's JPEG recompression would lose something: lossless or
    transparent results (PNG, WEBP), results re-encoded to fit, or results larger than Telegram shows."""
    return (
        photo.data is not original.data
        or original.content_type != "image/jpeg"
        or max(original.width, original.height) > PHOTO_DISPLAY_SIDE
    )


class TelegramFetcher:
    """Downloads Telegram files (bots may download up to 20 MB)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        """The file's bytes; too-large files are refused from metadata before downloading."""
        limit = min(max_bytes, DOWNLOAD_MAX_BYTES)
        if ref.size is not None and ref.size > limit:
            raise _too_large(ref.size, limit)
        try:
            file = await self._bot.get_file(ref.file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise _too_large(ref.size or limit + 1, limit) from exc
            raise errors.UnreadableImage(exc.message) from exc
        if file.file_size is not None and file.file_size > limit:
            raise _too_large(file.file_size, limit)
        data = bytes(await file.download_as_bytearray())
        if len(data) > limit:
            raise _too_large(len(data), limit)
        return data


def _too_large(size: int, limit: int) -> errors.ImageTooLarge:
    mb = 1024 * 1024
    return errors.ImageTooLarge(size_mb=f"{size / mb:.1f}", limit_mb=f"{limit / mb:.0f}")
