"""Direct messages to one Discord user (owner alerts), through a DM channel the bot opens."""

from __future__ import annotations

import discord

from adapters.discord_bot import wording
from core import i18n
from core.actions import Text
from core.identity import UserKey


class DiscordDirect:
    """:class:`core.alerts.DirectMessenger` for Discord (the owner must share a server or allow DMs)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def direct(self, user: UserKey, text: Text) -> None:
        """Send ``text`` in English as a DM."""
        user_id = int(user.user_id)
        target = self._client.get_user(user_id) or await self._client.fetch_user(user_id)
        await target.send(wording.render(i18n.FALLBACK, text))
