"""PTB handlers: each turns an update into one core event, hands it to the engine, sends the replies.

They translate and never decide: what a photo, a text or a button means in a conversation is
the engine's business. Group etiquette (act only when addressed) is decided here because it is
Telegram's: it depends on mentions, replies and bot commands.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram_bot import wording
from adapters.telegram_bot.admin import admin_command
from adapters.telegram_bot.albums import AlbumCollector, SharedAlbums
from adapters.telegram_bot.outbox import TelegramOutbox
from adapters.telegram_bot.preferences import PreferencesMenu
from adapters.telegram_bot.translate import (
    GROUP_TYPES,
    images_of,
    is_reply_to_bot,
    message_event_id,
    origin_of,
    parse_text,
)
from core import i18n
from core.actions import SendText, Text
from core.admin import ADMIN_COMMANDS
from core.engine import ConversationEngine
from core.events import ButtonPressed, Command, EditSubmitted, Event, ImageReceived, Origin, TextReceived
from core.i18n import cut

log = logging.getLogger(__name__)

SIMPLE_COMMANDS = frozenset({"start", "help", "cancel", "skip", "usage"})
BUTTON_PATTERN = r"^(edit_again|retry|retry_confirm|full_size):[0-9a-f]+$"
ALERT_MAX = 200  # answerCallbackQuery's text limit


class TelegramHandlers:
    """The bot's behaviour, registered on a PTB Application."""

    def __init__(
        self,
        engine: ConversationEngine,
        outbox: TelegramOutbox,
        menu: PreferencesMenu,
        album_delay: float = 1.0,
        on_album: Callable[[list[Message]], Awaitable[None]] | None = None,
        shared_albums: SharedAlbums | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._menu = menu
        self._album_handled = on_album
        self.albums = AlbumCollector(self._on_album, album_delay, shared_albums)

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the handlers to ``app``."""
        messages = filters.UpdateType.MESSAGE
        app.add_handler(MessageHandler(messages & (filters.PHOTO | filters.Document.ALL), self.on_media))
        app.add_handler(MessageHandler(messages & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(messages & filters.ChatType.PRIVATE, self.on_other))
        app.add_handler(CallbackQueryHandler(self.on_button, pattern=BUTTON_PATTERN))
        app.add_handler(CallbackQueryHandler(self._menu.on_press, pattern=PreferencesMenu.PATTERN))
        app.add_handler(CallbackQueryHandler(self.on_stray_button))
        app.add_error_handler(self.on_error)

    async def _dispatch(self, origin: Origin, event: Event) -> None:
        for action in await self._engine.handle(origin, event):
            await self._outbox.send(action)

    async def on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a file (maybe part of an album)."""
        message = update.message
        if message is None:
            return
        if message.media_group_id:
            self.albums.add(message)
            return
        await self._on_images(message, images_of(message), context.bot.username, context.bot.id)

    async def _on_album(self, parts: list[Message]) -> None:
        captioned = next((m for m in parts if m.caption), parts[0])
        images = tuple(ref for m in parts for ref in images_of(m))
        bot = captioned.get_bot()
        await self._on_images(captioned, images, bot.username, bot.id)
        if self._album_handled is not None:
            await self._album_handled(parts)

    async def _on_images(self, message: Message, images: tuple[Any, ...], bot_name: str, bot_id: int) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        origin = origin_of(message, user, message_event_id(message))
        parsed = parse_text(message, bot_name)
        in_group = message.chat.type in GROUP_TYPES
        if parsed.command is not None and parsed.command != "edit":
            if parsed.command in SIMPLE_COMMANDS:
                await self._dispatch(origin, Command(parsed.command, parsed.rest))
            return
        addressed = parsed.command == "edit" or parsed.mentions_bot or is_reply_to_bot(message, bot_id)
        if in_group and not addressed:
            return
        await self._dispatch(origin, ImageReceived(images, parsed.rest or None))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text: a command, a prompt, or (in groups) nothing unless addressed."""
        message = update.message
        user = message.from_user if message else None
        if message is None or user is None or user.is_bot:
            return
        origin = origin_of(message, user, message_event_id(message))
        parsed = parse_text(message, context.bot.username)
        in_group = message.chat.type in GROUP_TYPES
        replied_images = images_of(message.reply_to_message)
        command = parsed.command
        if command in ADMIN_COMMANDS:
            origin, admin = await admin_command(context.bot, message, user, origin, command, parsed.rest)
            await self._dispatch(origin, admin)
        elif command == "settings":
            await self._menu.show(origin)
        elif command in SIMPLE_COMMANDS:
            await self._dispatch(origin, Command(command, parsed.rest))
        elif command == "edit" or (in_group and parsed.mentions_bot and replied_images):
            if replied_images:
                event: Event = (
                    EditSubmitted(replied_images, parsed.rest)
                    if parsed.rest
                    else ImageReceived(replied_images)
                )
                await self._dispatch(origin, event)
            else:
                await self._dispatch(origin, Command("edit", parsed.rest))
        elif command is not None:
            if not in_group:
                await self._dispatch(origin, Command(command, parsed.rest))
        elif not in_group or parsed.mentions_bot or is_reply_to_bot(message, context.bot.id):
            await self._dispatch(origin, TextReceived(parsed.rest))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, voice, locations... in a private chat: explain what the bot takes."""
        message = update.message
        if message is None or message.from_user is None:
            return
        origin = origin_of(message, message.from_user, message_event_id(message))
        await self._outbox.send(SendText(origin, Text("send_photo_first")))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """ "Edit again", "Retry" and its confirmation, and "Full size", under results.

        The engine decides first, so a refusal (someone else's button, a result that is gone)
        can be the press's own alert instead of a message in the chat; every press is answered,
        even when handling fails, or the button keeps spinning.
        """
        query = update.callback_query
        if query is None or query.data is None:
            return
        answered = False
        try:
            message = query.message
            if not isinstance(message, Message):
                return
            action, _, job_id = query.data.partition(":")
            origin = origin_of(message, query.from_user, f"cb:{query.id}")
            actions = await self._engine.handle(origin, ButtonPressed(action, job_id))
            alerts = [a for a in actions if isinstance(a, SendText) and a.private]
            if alerts:
                text = wording.render(origin.locale, alerts[0].text)
                await query.answer(cut(text, ALERT_MAX), show_alert=True)
            else:
                await query.answer()
            answered = True
            for action_ in actions:
                if action_ not in alerts:
                    await self._outbox.send(action_)
        finally:
            if not answered:
                with contextlib.suppress(TelegramError):
                    await query.answer()

    async def on_stray_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Callback data no handler knows (an old bot version's buttons): stop the spinner."""
        query = update.callback_query
        if query is not None:
            with contextlib.suppress(TelegramError):
                await query.answer()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the error; tell the user something went wrong, never the details."""
        log.error("handling an update failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat and update.effective_user:
            locale = i18n.pick_locale(update.effective_user.language_code)
            try:
                await context.bot.send_message(update.effective_chat.id, wording.render(locale, "internal"))
            except Exception:
                log.warning("could not report the error to the chat", exc_info=True)
