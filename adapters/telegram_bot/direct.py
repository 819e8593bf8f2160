"""Direct messages to one Telegram user (owner alerts): a bot writes to a user's private chat by their id."""

from __future__ import annotations

from telegram import Bot

from adapters.telegram_bot import wording
from core import i18n
from core.actions import Text
from core.identity import UserKey


class TelegramDirect:
    """:class:`core.alerts.DirectMessenger` for Telegram (the owner must have started the bot once)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def direct(self, user: UserKey, text: Text) -> None:
        """Send ``text`` in English to the user's private chat with the bot."""
        await self._bot.send_message(chat_id=int(user.user_id), text=wording.render(i18n.FALLBACK, text))
