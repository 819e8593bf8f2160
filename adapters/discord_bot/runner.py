"""Start and stop the Discord bot inside the running event loop.

discord.py has no per-client URL setting: REST URLs come from the class attribute
``discord.http.Route.BASE`` and a plain client's first gateway connection from
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``. Both are process-wide, so they are set here
from the settings and restored on exit (one Discord bot per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord_bot.bot import EditBot, make_bot
from adapters.discord_bot.direct import DiscordDirect
from adapters.discord_bot.fetcher import DiscordFetcher, make_http_session
from adapters.discord_bot.metering import DiscordGate, meter_http, metered_webhooks
from adapters.discord_bot.settings import DiscordSettings
from adapters.host import Host
from core.errors import ConfigError
from core.identity import Platform

log = logging.getLogger(__name__)


@contextlib.contextmanager
def discord_endpoints(api_url: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST calls at ``api_url`` and its gateway at ``gateway_url``; restore on exit."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@asynccontextmanager
async def run_discord(
    settings: DiscordSettings,
    core: Host,
    *,
    guild_ready_timeout: float = 2.0,
    ready_timeout: float = 60.0,
    gateway: bool = True,
) -> AsyncIterator[EditBot]:
    """Run the bot until the context exits; entering returns once it is connected and ready.

    ``gateway=False`` (a worker) only logs in over REST: results go through interaction
    webhooks and channel messages, which need no gateway connection.
    Raises :class:`core.errors.ConfigError` when Discord refuses the token.
    """
    if settings.discord_token is None:
        raise ConfigError("EDITBOT_DISCORD_TOKEN is not set")
    # Several processes (issue 14): Discord's 50 requests/s per token hold across them (REST calls
    # with the bot token; interaction endpoints are not bound by it).
    gate = DiscordGate(core.budget)
    with (
        discord_endpoints(settings.discord_api_url, settings.discord_gateway_url),
        metered_webhooks(core.telemetry),
    ):
        async with make_http_session() as http:
            fetcher = DiscordFetcher(http)
            bot = make_bot(settings, core.engine, fetcher, guild_ready_timeout=guild_ready_timeout)
            meter_http(bot, core.telemetry, gate)
            core.attach(Platform.DISCORD, bot.outbox, fetcher)
            core.alerts.attach(Platform.DISCORD, DiscordDirect(bot))  # owner alerts (issue 13)
            connect: asyncio.Task[None] | None = None
            try:
                try:
                    await bot.login(settings.discord_token.get_secret_value())
                except discord.LoginFailure:
                    raise ConfigError(
                        "Discord refused EDITBOT_DISCORD_TOKEN: reset it in the Developer Portal "
                        "(your application -> Bot -> Reset Token) and set the new one"
                    ) from None
                if not gateway:
                    log.info("Discord bot %s delivers over REST only (no gateway)", bot.user)
                    yield bot
                    return
                connect = asyncio.create_task(bot.connect(reconnect=True), name="discord-gateway")
                await _wait_ready(bot, connect, ready_timeout)
                log.info("Discord bot %s is ready", bot.user)
                yield bot
            finally:
                await bot.close()
                if connect is not None:
                    with contextlib.suppress(Exception):
                        await connect


async def _wait_ready(bot: EditBot, connect: asyncio.Task[None], seconds: float) -> None:
    ready = asyncio.create_task(bot.wait_until_ready(), name="discord-ready")
    try:
        await asyncio.wait({connect, ready}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not ready.done():
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
    if ready.done() and not ready.cancelled():
        return
    if connect.done():
        error = connect.exception()
        if isinstance(error, discord.PrivilegedIntentsRequired | discord.LoginFailure):
            raise ConfigError(f"Discord refused the connection: {error}") from error
        if error is not None:
            raise error
        raise ConnectionError("the Discord gateway connection ended before the bot was ready")
    raise TimeoutError(f"the Discord bot was not ready after {seconds:.0f} s")
