"""Core actions -> Telegram messages, and Telegram files -> bytes for the core.

A job's status message is its first feedback; it is edited only when the phase changes, and a
single result photo takes its place (editMessageMedia, buttons attached) instead of a deletion
and a new message: three Bot API calls per edit in the common case (status, getFile, result).
No chat action is sent while a status message shows progress. Status edits travel in the rate
limiter's progress lane (:mod:`adapters.telegram_bot.lanes`), behind first feedback and results.
A photo that loses something to Telegram's recompression (a PNG, more than 2560 px) does not
bring a fourth call for its file: the file waits behind a "Full size" button (issue 11).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
    WebAppInfo,
)
from telegram.constants import FileSizeLimit, MessageLimit
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from adapters.telegram_bot import wording
from adapters.telegram_bot.lanes import FEEDBACK, PREVIEW, PROGRESS, RESULT, LaneRateLimiter
from adapters.telegram_bot.stickers import sticker_webp
from adapters.telegram_bot.translate import photo_ref
from core import errors
from core.actions import (
    Action,
    Button,
    Delivered,
    DeliveredPart,
    FullSizeOffer,
    OutputImage,
    Phase,
    SendChart,
    SendError,
    SendFiles,
    SendImage,
    SendProgress,
    SendText,
    ShowDrawing,
    Text,
    result_refs,
)
from core.events import Origin
from core.i18n import cut
from core.identity import Platform
from core.imaging import fit_for_upload
from core.refs import ImageRef, kept_original

log = logging.getLogger(__name__)

PHOTO_MAX_BYTES = int(FileSizeLimit.PHOTOSIZE_UPLOAD)
PHOTO_MAX_SIDE_SUM = 10_000
# Telegram recompresses photos to at most this long side; larger results also go as a file.
PHOTO_DISPLAY_SIDE = 2560
DOCUMENT_MAX_BYTES = int(FileSizeLimit.FILESIZE_UPLOAD)
CAPTION_MAX = int(MessageLimit.CAPTION_LENGTH)
TEXT_MAX = int(MessageLimit.MAX_TEXT_LENGTH)
DOWNLOAD_MAX_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)


def keyboard(
    buttons: tuple[Button, ...], locale: str, painter: PainterLinks | None = None
) -> InlineKeyboardMarkup | None:
    """Inline buttons whose callback data names the action and the job, so they outlive restarts.

    A painter button opens the painter page instead (when the painter runs; else it is left out).
    """
    row = []
    for b in buttons:
        label = wording.render(locale, b.label)
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
    # Every photo is recompressed to JPEG: a PNG result would need a second message (the file).
    keeps_png: bool = False

    def __init__(self, bot: ExtBot[str], painter_url: str | None = None) -> None:
        self._bot = bot
        self._painter_url = painter_url  # EDITBOT_WEB_URL: "Draw on it" buttons open the painter there
        self._status: dict[str, int] = {}

    async def send(self, action: Action) -> Delivered | None:
        """Show one action in its chat."""
        loc = action.origin.locale
        match action:
            case SendText(origin=origin, text=text, buttons=buttons):
                markup = keyboard(buttons, loc, self._painter(origin))
                await self.text(origin, wording.render(loc, text), markup)
            case SendError(origin=origin, kind=kind, details=details):
                await self.text(origin, wording.render(loc, kind, **details))
            case SendProgress():
                return await self._progress(action)
            case SendImage():
                return await self._result(action)
            case SendFiles(origin=origin, images=images):
                await self._files(origin, images)
            case (
                SendChart(origin=origin, image=image, caption=caption)
                | ShowDrawing(origin=origin, image=image, caption=caption)
            ):
                photo = await asyncio.to_thread(_as_photo, image)
                await self._bot.send_photo(
                    photo=photo.data,
                    caption=cut(wording.render(loc, caption), CAPTION_MAX),
                    reply_parameters=_reply(origin),
                    **_where(origin),
                )
        return None

    def _painter(self, origin: Origin) -> PainterLinks | None:
        if self._painter_url is None:
            return None
        return PainterLinks(self._painter_url, self._bot.username, origin.is_private)

    async def text(
        self,
        origin: Origin,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        lane: str | None = None,
    ) -> Message:
        """A plain reply to the origin's message (``lane``: see :mod:`adapters.telegram_bot.lanes`)."""
        return await self._bot.send_message(
            text=cut(text, TEXT_MAX),
            reply_parameters=_reply(origin),
            reply_markup=markup,
            rate_limit_args=lane,
            **_where(origin),
        )

    async def _progress(self, action: SendProgress) -> Delivered | None:
        """Create, edit or delete the job's status message; the id comes with the action when
        another process created it (the job stores it), and goes back in ``Delivered``."""
        origin, job = action.origin, action.job_id
        known = self._status.get(job) or (int(action.message_id) if action.message_id else None)
        if action.phase is Phase.DONE:
            self._status.pop(job, None)
            if known is not None:
                with contextlib.suppress(TelegramError):
                    await self._bot.delete_message(
                        chat_id=int(origin.chat.chat_id), message_id=known, rate_limit_args=PROGRESS
                    )
            return None
        text = wording.render(origin.locale, action.text)
        if action.image is not None:
            return await self._preview(action, known, text)
        if known is None:
            # The first feedback: after replies to commands, before results.
            message = await self.text(origin, text, lane=FEEDBACK)
            self._status[job] = message.message_id
            return Delivered(message_id=str(message.message_id))
        self._status[job] = known
        try:
            await self._bot.edit_message_text(
                text=text, chat_id=int(origin.chat.chat_id), message_id=known, rate_limit_args=PROGRESS
            )
        except BadRequest as exc:
            lowered = exc.message.lower()
            if "no text" in lowered:
                # The status shows a preview (a photo): its caption carries the text.
                with contextlib.suppress(BadRequest):
                    await self._bot.edit_message_caption(
                        caption=cut(text, CAPTION_MAX),
                        chat_id=int(origin.chat.chat_id),
                        message_id=known,
                        rate_limit_args=PROGRESS,
                    )
                return Delivered(message_id=str(known))
            if "not found" in lowered or "can't be edited" in lowered:
                # Deleted by the user (or too old to edit): a new status message takes its place.
                message = await self.text(origin, text, lane=PROGRESS)
                self._status[job] = message.message_id
                return Delivered(message_id=str(message.message_id))
            if "not modified" not in lowered:
                raise
        return Delivered(message_id=str(known))

    async def _result(self, action: SendImage) -> Delivered:
        """Send the result as recorded parts: the photo (or album and a buttons message), then the
        full-size files. Parts an interrupted attempt already sent are skipped.

        Where a photo loses something and the user did not ask for a file, the files are kept
        behind a "Full size" button instead (``SendImage.full_size``): the photo alone is the
        result, three calls per edit. They are kept while the photo uploads; should keeping
        fail, the files follow the photo as before.
        """
        loc = action.origin.locale
        caption = cut(action.caption, CAPTION_MAX)
        photos = list(await asyncio.gather(*(asyncio.to_thread(_as_photo, image) for image in action.images)))
        offer = _full_size(action, photos)
        # Where the files themselves are the result (Telegram refused the photos) the button
        # has nothing to add: those messages get the plain buttons.
        plain = keyboard(action.buttons, loc)
        markup = keyboard((*action.buttons, offer.button), loc) if offer else plain
        keeping = asyncio.ensure_future(_keep(offer)) if offer is not None else None
        parts = list(action.delivered)
        status = self._status.pop(action.job_id, None) or (
            int(action.status_message) if action.status_message else None
        )
        try:
            return await self._parts(action, photos, caption, (markup, plain), status, keeping, parts)
        finally:
            if keeping is not None:
                await keeping  # never left running: it catches its own failures

    async def _parts(
        self,
        action: SendImage,
        photos: list[OutputImage],
        caption: str,
        markups: tuple[InlineKeyboardMarkup | None, InlineKeyboardMarkup | None],
        status: int | None,
        keeping: asyncio.Future[bool] | None,
        parts: list[DeliveredPart],
    ) -> Delivered:
        origin, loc = action.origin, action.origin.locale
        markup, plain = markups  # with "Full size" when it was offered, and without

        async def sent(part: DeliveredPart, *, final: bool = False) -> None:
            await action.sent(part, final=final)
            parts.append(part)

        try:
            if len(photos) == 1:
                if action.part("photo") is None and action.part("document") is None:
                    part = None
                    if status is not None:
                        part = await self._into_status(origin, status, photos[0], caption, markup)
                    if part is None:
                        part = await self._single(origin, photos[0], action.images[0], caption, markups)
                    # The common case: the photo is the whole result (no file, no sticker follows).
                    lossy = keeping is None and _needs_document(action.images[0], photos[0])
                    only = not (action.job_id and (action.as_document or lossy))
                    await sent(part, final=only and not action.cutout)
            else:
                if action.part("album") is None and not any(p.kind == "document" for p in parts):
                    media = [
                        InputMediaPhoto(p.data, caption=caption if i == 0 else None, filename=p.filename)
                        for i, p in enumerate(photos)
                    ]
                    try:
                        album = await self._bot.send_media_group(
                            media=media, reply_parameters=_reply(origin), **_where(origin)
                        )
                    except BadRequest as exc:
                        if "photo" not in exc.message.lower():
                            raise
                        # Refused as photos (extreme proportions): the files below are the result.
                        log.info("Telegram refused the results as photos (%s): sending files", exc.message)
                    else:
                        refs = tuple(ref for m in album if (ref := photo_ref(m)) is not None)
                        await sent(DeliveredPart("album", 0, str(album[0].message_id), refs))
            shown = len(photos) == 1 or any(p.kind == "album" for p in parts)
            kept = keeping is not None and await keeping
            for i, image in enumerate(action.images):
                wanted = action.as_document or not shown or (not kept and _needs_document(image, photos[i]))
                if wanted and not any(p.kind == "document" and p.index == i for p in parts):
                    first = len(photos) == 1 or (not shown and i == 0)
                    doc = await self._send_document(origin, image, caption if first else None)
                    if doc is not None:
                        await sent(DeliveredPart("document", i, doc[0], (doc[1],)))
                if action.cutout and action.part("sticker", i) is None:
                    # A transparent cut-out is one tap away from the user's sticker pack.
                    sticker = await asyncio.to_thread(sticker_webp, image.data)
                    message = await self._bot.send_sticker(sticker=sticker, **_where(origin))
                    await sent(DeliveredPart("sticker", i, str(message.message_id)))
            below = markup if shown else plain
            if len(photos) > 1 and below is not None and action.part("buttons") is None:
                # Last, so "the results above" holds whether they came as an album, files or both.
                text = wording.render(loc, Text("results_above", {"count": len(photos)}))
                await sent(
                    DeliveredPart("buttons", 0, str((await self.text(origin, text, below)).message_id))
                )
        except Forbidden as exc:
            raise errors.DeliveryFailed(str(exc)) from exc
        replaced = status is not None and any(p.message_id == str(status) for p in parts)
        images = result_refs(parts)
        if kept:
            # "Edit again" of these photos starts from the kept originals while they are kept.
            images = tuple(
                ref if ref.as_document else replace(ref, original=kept_original(action.job_id, i))
                for i, ref in enumerate(images)
            )
        return Delivered(
            message_id=parts[0].message_id if parts else None,
            images=images,
            status_replaced=replaced,
        )

    async def _files(self, origin: Origin, images: tuple[OutputImage, ...]) -> None:
        """Files as they are, replying to the message that asked; several go as one album of
        files (a result has at most 10 images, sendMediaGroup's limit)."""
        fits = [image for image in images if len(image.data) <= DOCUMENT_MAX_BYTES]
        if len(fits) == 1:
            await self._send_document(origin, fits[0], None)
        elif fits:
            media = [
                InputMediaDocument(image.data, filename=image.filename, disable_content_type_detection=True)
                for image in fits
            ]
            await self._bot.send_media_group(media=media, reply_parameters=_reply(origin), **_where(origin))

    async def _into_status(
        self,
        origin: Origin,
        status: int,
        photo: OutputImage,
        caption: str,
        markup: InlineKeyboardMarkup | None,
    ) -> DeliveredPart | None:
        """The status message becomes the result photo; None when it cannot (gone, refused).

        A crash after this call but before it is recorded is harmless: the next process edits
        the same message again (the job keeps its id), so nothing is sent twice or refunded.
        """
        try:
            message = await self._bot.edit_message_media(
                media=InputMediaPhoto(photo.data, caption=caption, filename=photo.filename),
                chat_id=int(origin.chat.chat_id),
                message_id=status,
                reply_markup=markup,
                rate_limit_args=RESULT,
            )
        except BadRequest as exc:
            log.info("status message %s could not become the result (%s)", status, exc.message)
            return None
        if not isinstance(message, Message):
            return None
        ref = photo_ref(message)
        return DeliveredPart("photo", 0, str(message.message_id), (ref,) if ref is not None else ())

    async def _single(
        self,
        origin: Origin,
        photo: OutputImage,
        original: OutputImage,
        caption: str,
        markups: tuple[InlineKeyboardMarkup | None, InlineKeyboardMarkup | None],
    ) -> DeliveredPart:
        """One result as a photo; as a file when Telegram refuses the photo (extreme proportions),
        then without a "Full size" button (the file is the full size)."""
        markup, plain = markups
        try:
            message = await self._bot.send_photo(
                photo=photo.data,
                caption=caption,
                reply_markup=markup,
                reply_parameters=_reply(origin),
                **_where(origin),
            )
        except BadRequest as exc:
            if "photo" not in exc.message.lower():
                raise
            log.info("Telegram refused the result as a photo (%s): sending it as a file", exc.message)
            doc = await self._send_document(origin, original, caption, plain)
            if doc is None:
                raise errors.DeliveryFailed(exc.message) from exc
            return DeliveredPart("document", 0, doc[0], (doc[1],))
        ref = photo_ref(message)
        return DeliveredPart("photo", 0, str(message.message_id), (ref,) if ref is not None else ())

    async def _send_document(
        self,
        origin: Origin,
        image: OutputImage,
        caption: str | None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> tuple[str, ImageRef] | None:
        if len(image.data) > DOCUMENT_MAX_BYTES:
            return None
        message = await self._bot.send_document(
            document=image.data,
            filename=image.filename,
            caption=caption,
            reply_markup=markup,
            disable_content_type_detection=True,
            reply_parameters=_reply(origin),
            **_where(origin),
        )
        doc = message.document
        if doc is None:
            return None
        ref = ImageRef(
            Platform.TELEGRAM,
            doc.file_id,
            filename=doc.file_name,
            size=doc.file_size,
            mime=doc.mime_type,
            width=image.width,
            height=image.height,
            as_document=True,
        )
        return str(message.message_id), ref

    def has_room_for_preview(self, origin: Origin) -> bool:
        """Whether the bot's budget has room for a preview in this chat now (nothing is spent)."""
        limiter = self._bot.rate_limiter
        return not isinstance(limiter, LaneRateLimiter) or limiter.has_room(int(origin.chat.chat_id))

    async def _preview(self, action: SendProgress, known: int | None, text: str) -> Delivered:
        """The status message shows the newest partial image, swapped in place (editMessageMedia).

        Where the status cannot take media, it is replaced by a new photo message instead.
        """
        origin, job, image = action.origin, action.job_id, action.image
        assert image is not None
        chat_id = int(origin.chat.chat_id)
        if known is not None and not self.has_room_for_preview(origin):
            return Delivered(message_id=str(known))  # the budget is short: not even worth encoding
        caption = cut(text, CAPTION_MAX)
        photo = await asyncio.to_thread(_as_photo, image)
        if known is not None:
            try:
                await self._bot.edit_message_media(
                    media=InputMediaPhoto(photo.data, caption=caption, filename=photo.filename),
                    chat_id=chat_id,
                    message_id=known,
                    rate_limit_args=PREVIEW,
                )
                self._status[job] = known
                return Delivered(message_id=str(known))
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return Delivered(message_id=str(known))
            with contextlib.suppress(TelegramError):
                await self._bot.delete_message(chat_id=chat_id, message_id=known, rate_limit_args=PROGRESS)
        message = await self._bot.send_photo(
            photo=photo.data,
            caption=caption,
            reply_parameters=_reply(origin),
            rate_limit_args=PROGRESS,
            **_where(origin),
        )
        if not isinstance(message, Message):  # dropped by a shared budget that is short
            return Delivered(message_id=None)
        self._status[job] = message.message_id
        return Delivered(message_id=str(message.message_id))


def _as_photo(image: OutputImage) -> OutputImage:
    return fit_for_upload(
        image.data, PHOTO_MAX_BYTES, max_side_sum=PHOTO_MAX_SIDE_SUM, name=image.filename.rsplit(".", 1)[0]
    )


def _full_size(action: SendImage, photos: list[OutputImage]) -> FullSizeOffer | None:
    """The offer taken up: some photo loses something, and the user did not ask for a file (then
    the file is part of the result) nor does the result lack its buttons."""
    offer = action.full_size
    if offer is None or action.as_document or not action.job_id or not action.buttons:
        return None
    lossy = any(_needs_document(image, photo) for image, photo in zip(action.images, photos, strict=True))
    return offer if lossy else None


async def _keep(offer: FullSizeOffer) -> bool:
    """Keep the files for the button; False (they go with the photo instead) when that failed."""
    try:
        await offer.keep()
    except Exception:
        log.warning("could not keep the full-size result: sending the file with the photo", exc_info=True)
        return False
    return True


def _needs_document(original: OutputImage, photo: OutputImage) -> bool:
    """Whether Telegram's JPEG recompression loses something (the file then goes with the photo,
    or waits behind "Full size"): lossless or transparent results (PNG, WEBP), results re-encoded
    to fit, or results larger than Telegram shows."""
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
            raise errors.ImageTooLarge(size=ref.size, limit=limit)
        try:
            file = await self._bot.get_file(ref.file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise errors.ImageTooLarge(size=ref.size or limit + 1, limit=limit) from exc
            raise errors.UnreadableImage(exc.message) from exc
        if file.file_size is not None and file.file_size > limit:
            raise errors.ImageTooLarge(size=file.file_size, limit=limit)
        data = bytes(await file.download_as_bytearray())
        if len(data) > limit:
            raise errors.ImageTooLarge(size=len(data), limit=limit)
        return data
