"""The discord.py client: holds the core's engine through its handlers, syncs commands on start.

Interactions only: the bot asks for no privileged intent (no message content) and reads no messages.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from adapters.discord_bot.admin_commands import install_admin_commands
from adapters.discord_bot.commands import CatalogTranslator, EditTree, install_commands
from adapters.discord_bot.fetcher import DiscordFetcher
from adapters.discord_bot.handlers import DiscordHandlers
from adapters.discord_bot.outbox import DiscordOutbox
from adapters.discord_bot.settings import DiscordSettings
from adapters.discord_bot.views import ResultButton
from adapters.discord_bot.webhooks import Responder
from core.engine import ConversationEngine
from core.errors import ConfigError

log = logging.getLogger(__name__)


class EditBot(discord.Client):
    """The Discord bot, wired to the core engine; its outbox and fetcher serve the job runner."""

    def __init__(
        self,
        settings: DiscordSettings,
        engine: ConversationEngine,
        fetcher: DiscordFetcher,
        *,
        guild_ready_timeout: float = 2.0,
        **client_options: Any,
    ) -> None:
        super().__init__(
            intents=discord.Intents(guilds=True),
            # Prompts are echoed under results: nobody gets pinged by what a user typed.
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            **client_options,
        )
        self.settings = settings
        self.fetcher = fetcher
        self.outbox = DiscordOutbox(Responder(self), settings.web_url)
        self.handlers = DiscordHandlers(engine, self.outbox)
        self.tree = EditTree(
            self,
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )
        install_commands(self.tree, self.handlers, settings, engine.config.catalogue)
        install_admin_commands(self.tree, self.handlers)

    async def setup_hook(self) -> None:
        """Register the restart-proof buttons and sync the commands (globally, and to the dev server)."""
        self.add_dynamic_items(ResultButton)
        await self.tree.set_translator(CatalogTranslator())
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Global commands take a while to reach every server; the dev server's copy updates at once."""
        try:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
            if self.settings.discord_dev_guild is not None:
                guild = discord.Object(self.settings.discord_dev_guild)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to the development server %s", len(synced), guild.id)
        except discord.HTTPException as exc:
            # The commands synced last time stay registered; the bot still answers them.
            log.warning("syncing commands failed (%s %s): %s", exc.status, exc.code, exc.text)


class ShardedEditBot(EditBot, discord.AutoShardedClient):
    """The same bot holding several gateway shards in one process (``EDITBOT_DISCORD_SHARD_*``)."""


def make_bot(
    settings: DiscordSettings,
    engine: ConversationEngine,
    fetcher: DiscordFetcher,
    *,
    guild_ready_timeout: float = 2.0,
) -> EditBot:
    """The bot for these settings: one connection, or the shards ``EDITBOT_DISCORD_SHARD_IDS`` names
    (all of ``EDITBOT_DISCORD_SHARD_COUNT`` when empty), so each interaction reaches one process."""
    count = settings.discord_shard_count
    if count is None:
        return EditBot(settings, engine, fetcher, guild_ready_timeout=guild_ready_timeout)
    ids = list(settings.discord_shard_ids) or list(range(count))
    if any(not 0 <= i < count for i in ids):
        raise ConfigError(f"EDITBOT_DISCORD_SHARD_IDS: every shard id must be in 0..{count - 1}")
    return ShardedEditBot(
        settings, engine, fetcher, guild_ready_timeout=guild_ready_timeout, shard_count=count, shard_ids=ids
    )
