"""Core actions -> Discord: interaction responses, followups, and the channel after the token expired.

A job started by an interaction owns that interaction's response (``Origin.handle.mode`` decides how):
progress edits it in place, then the result replaces it as files with buttons (or, in FOLLOWUP mode,
arrives as a new public message), or an error does. The immediate replies of ``engine.handle``
are shown by :meth:`DiscordOutbox.answer`, which knows how the interaction was acknowledged.

Invariant: edits of one interaction's response are serialised (one lock per token), so a late
"starting" notice never overwrites newer progress or a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from enum import Enum
from typing import Any

import discord

from adapters.discord_bot import wording
from adapters.discord_bot.metering import BudgetShort, progress_calls
from adapters.discord_bot.translate import FOLLOWUP, refs_of
from adapters.discord_bot.views import buttons_view
from adapters.discord_bot.webhooks import Reply, Responder, TokenExpired, split
from core import errors
from core.actions import (
    Action,
    Button,
    Delivered,
    DeliveredPart,
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
)
from core.engine import Reply as Handled
from core.events import Origin
from core.i18n import cut
from core.imaging import fit_for_upload
from core.ratelimit.budget import Rate, gcra

log = logging.getLogger(__name__)

_REMEMBERED = 4096
# Room left in a result's text for the mention that precedes it when it goes to the channel.
_CAPTION_MAX = 1900


class Acked(Enum):
    """How an interaction was acknowledged before the engine ran (decides where replies go)."""

    PRIVATE = "private"  # deferred ephemerally: every reply fills that private response
    JOB = "job"  # deferred publicly ("thinking…"): the response belongs to the job it starts
    UPDATED = "updated"  # an ephemeral message was updated in place; it is the job's status


PREVIEW_RATE = Rate(per_second=10.0, burst=10.0)
"""Live previews one process uploads at most: interaction webhooks are outside Discord's global
budget, but each preview is an upload the bot encodes and sends; under a burst of edits the rest
are dropped (issue 11: progress is dropped when short, so results go first)."""


class DiscordOutbox:
    """Sends core actions to Discord (``core.actions.Outbox``) and shows ``handle``'s replies."""

    # Discord takes bot uploads up to 10 MiB per file on unboosted servers.
    upload_limit: int | None = 10 * 1024 * 1024
    keeps_png: bool = True

    def __init__(
        self, responder: Responder, painter_url: str | None = None, *, previews: Rate = PREVIEW_RATE
    ) -> None:
        self._responder = responder
        self._painter_url = painter_url  # EDITBOT_WEB_URL: painter buttons link there
        self._previews = previews
        self._previews_tat: float | None = None  # GCRA state of the preview budget
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._filled: OrderedDict[str, None] = OrderedDict()

    def has_room_for_preview(self, origin: Origin) -> bool:
        """Whether the process's preview budget has room now (nothing is spent)."""
        return self._preview_step() is not None

    def _preview_step(self) -> tuple[float, float] | None:
        return gcra(self._previews_tat, time.monotonic(), self._previews, 1.0, self._previews.window)

    def _room_for_preview(self) -> bool:
        step = self._preview_step()
        if step is None:
            return False
        self._previews_tat = step[0]
        return True

    def _lock(self, reply: Reply) -> asyncio.Lock:
        lock = self._locks.get(reply.token)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[reply.token] = lock
        return lock

    def _mark_filled(self, reply: Reply) -> None:
        self._filled[reply.token] = None
        while len(self._filled) > _REMEMBERED:
            self._filled.popitem(last=False)

    async def send(self, action: Action) -> Delivered | None:
        """Show an action of a running job (or a notice about one) to its user."""
        reply = Reply.of(action.origin)
        locale = action.origin.locale
        async with self._lock(reply):
            match action:
                case SendProgress(phase=phase, text=text, image=image):
                    await self._progress(reply, locale, phase, text, image)
                case SendImage():
                    return await self._result(reply, action)
                case SendError(kind=kind, details=details):
                    await self._replace(reply, locale, wording.render(locale, kind, **details))
                case SendText(text=text, buttons=buttons, private=private):
                    await self._notice(
                        reply, locale, wording.render(locale, text), self._view(buttons, locale), private
                    )
                case SendChart(image=image, caption=caption):
                    await self._notice(reply, locale, wording.render(locale, caption), None, True, (image,))
                case ShowDrawing(image=image, caption=caption):
                    await self._replace(reply, locale, wording.render(locale, caption), (image,))
                case SendFiles(images=images):
                    # Discord keeps uploads as they are, so it never offers "Full size"; shown anyway.
                    await self._notice(reply, locale, "", None, False, images)
        return None

    def _view(self, buttons: tuple[Button, ...], locale: str) -> discord.ui.View | None:
        return buttons_view(buttons, locale, self._painter_url)

    async def _progress(
        self, reply: Reply, locale: str, phase: Phase, text: Text, image: OutputImage | None = None
    ) -> None:
        if phase is Phase.DONE and reply.mode != FOLLOWUP:
            return  # the result or the error replaces the status in place
        # A live preview becomes the response's attachment; the result or an error replaces it.
        if image is not None and not self._room_for_preview():
            return  # a burst: the uploads and their CPU go to results (the next state is sent)
        images = [image] if image is not None else None
        # Progress is best effort: once the token is gone only the outcome is worth a channel post,
        # and where it uses the bot's global budget a short budget skips it (the next state is sent).
        with progress_calls(), contextlib.suppress(TokenExpired, BudgetShort):
            await self._responder.edit_original(reply, wording.render(locale, text), images=images)
            self._mark_filled(reply)

    async def _replace(
        self, reply: Reply, locale: str, text: str, images: tuple[OutputImage, ...] = ()
    ) -> None:
        """Put ``text`` (and ``images``) in place of the response and its buttons: where the job's
        status is (an error ends the job there), or /draw's message (the drawing answers it)."""
        try:
            await self._responder.edit_original(reply, text, images=list(images), clear_view=True)
            self._mark_filled(reply)
        except TokenExpired:
            await self._to_channel(reply, locale, text, images=images)

    async def _notice(
        self,
        reply: Reply,
        locale: str,
        text: str,
        view: discord.ui.View | None,
        private: bool,
        images: tuple[OutputImage, ...] = (),
    ) -> None:
        # Never in place: after a restart nothing says whether the response is a result by now.
        try:
            await self._responder.followup(reply, text, images=images, view=view, ephemeral=private)
        except TokenExpired:
            await self._to_channel(reply, locale, text, images=images, view=view)

    async def _to_channel(
        self,
        reply: Reply,
        locale: str,
        text: str,
        *,
        images: tuple[OutputImage, ...] = (),
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        body = wording.render(locale, "discord_for_user", mention=f"<@{reply.user_id}>", message=text)
        try:
            return await self._responder.to_channel(reply, body, images=images, view=view)
        except discord.HTTPException as exc:  # no access to the channel, DMs closed, too large
            raise errors.DeliveryFailed(f"posting to channel {reply.channel_id} failed: {exc}") from exc

    async def _result(self, reply: Reply, action: SendImage) -> Delivered:
        # One message carries the whole result; once recorded, a resumed job does not post it again.
        done = action.part("message")
        if done is not None:
            return Delivered(message_id=done.message_id, images=done.refs)
        locale = action.origin.locale
        images = await _fit(action.images, reply.upload_limit)
        caption = cut(action.caption, _CAPTION_MAX)
        view = self._view(action.buttons, locale)
        message: discord.Message
        replaced = False
        try:
            if reply.mode == FOLLOWUP:
                message = await self._responder.followup(reply, caption, images=images, view=view)
            else:
                # The status (the interaction's response) becomes the result: one edit, nothing removed.
                message = await self._responder.edit_original(reply, caption, images=images, view=view)
                replaced = True
            self._mark_filled(reply)
        except TokenExpired:
            message = await self._to_channel(reply, locale, caption, images=images, view=view)
        except discord.HTTPException as exc:
            raise errors.DeliveryFailed(f"Discord refused the result: {exc}") from exc
        refs = refs_of(message.attachments)
        await action.sent(DeliveredPart("message", 0, str(message.id), refs), final=True)
        return Delivered(message_id=str(message.id), images=refs, status_replaced=replaced)

    async def answer(
        self,
        origin: Origin,
        handled: Handled,
        acked: Acked,
        *,
        respond: discord.InteractionResponse[Any] | None = None,
    ) -> None:
        """Show what ``engine.handle`` answered for an interaction acknowledged as ``acked``, or
        not acknowledged yet when ``respond`` is given: the first message is then its response.

        When it started no job, its replies take the acknowledgement's place (privately); notices
        that come with a started job go privately to the user. Images among the replies (the
        /stats chart, a painter preview) are attached to the first message; text longer than one
        message continues in private followups.
        """
        actions = handled.actions
        if not actions:
            return
        reply = Reply.of(origin)
        locale = origin.locale
        first, *rest = split("\n\n".join(_render(locale, a) for a in actions))
        buttons = tuple(b for a in actions if isinstance(a, SendText) for b in a.buttons)
        view = self._view(buttons, locale)
        images = await _fit(tuple(i for a in actions for i in _images(a)), reply.upload_limit)
        started = handled.started
        async with self._lock(reply):
            try:
                if respond is not None:
                    await self._responder.respond(respond, first, images=images, view=view)
                    self._mark_filled(reply)
                elif acked is Acked.PRIVATE or (acked is Acked.UPDATED and not started):
                    await self._responder.edit_original(reply, first, images=images or None, view=view)
                    self._mark_filled(reply)
                elif acked is Acked.JOB and not started:
                    # The public "thinking…" placeholder goes; what went wrong is the user's business.
                    await self._responder.delete_original(reply)
                    await self._responder.followup(reply, first, images=images, view=view, ephemeral=True)
                else:
                    if acked is Acked.JOB and reply.token not in self._filled:
                        # The first followup after a defer would fill (and publish) the placeholder.
                        await self._responder.edit_original(reply, wording.render(locale, "discord_starting"))
                        self._mark_filled(reply)
                    await self._responder.followup(reply, first, images=images, view=view, ephemeral=True)
                for more in rest:
                    await self._responder.followup(reply, more, ephemeral=True)
            except TokenExpired:
                log.warning("interaction %s expired before its replies were shown", origin.event_id)


def _render(locale: str, action: Action) -> str:
    match action:
        case SendText(text=text):
            return wording.render(locale, text)
        case SendError(kind=kind, details=details):
            return wording.render(locale, kind, **details)
        case SendProgress(text=text):
            return wording.render(locale, text)
        case SendImage(caption=caption):
            return caption
        case SendChart(caption=caption) | ShowDrawing(caption=caption):
            return wording.render(locale, caption)
    return ""


def _images(action: Action) -> tuple[OutputImage, ...]:
    """The pictures an immediate reply attaches: the /stats chart, or a drawing shown back."""
    match action:
        case SendChart(image=image) | ShowDrawing(image=image):
            return (image,)
    return ()


async def _fit(images: tuple[OutputImage, ...], limit: int) -> tuple[OutputImage, ...]:
    """Each result re-encoded or shrunk where needed so that all of them fit one message's limit."""
    per_file = max(1, limit // max(1, len(images)))
    fitted = []
    for image in images:
        stem = image.filename.rsplit(".", 1)[0]
        fitted.append(await asyncio.to_thread(fit_for_upload, image.data, per_file, name=stem))
    return tuple(fitted)
