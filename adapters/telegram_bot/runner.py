"""Start and stop the Telegram bot inside the running event loop (long polling or webhook)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import BotCommand, BotCommandScopeAllChatAdministrators, Update
from telegram.ext import Application, ApplicationBuilder

from adapters.host import Host
from adapters.telegram_bot import wording
from adapters.telegram_bot.aiohttp_request import AiohttpRequest
from adapters.telegram_bot.albums import SharedAlbums
from adapters.telegram_bot.direct import TelegramDirect
from adapters.telegram_bot.handlers import TelegramHandlers
from adapters.telegram_bot.inbox import Inbox, ReceiptRequest
from adapters.telegram_bot.metering import MeteredRateLimiter
from adapters.telegram_bot.ordering import PerUserOrder
from adapters.telegram_bot.outbox import TelegramFetcher, TelegramOutbox
from adapters.telegram_bot.preferences import PreferencesMenu
from adapters.telegram_bot.settings import TelegramSettings
from adapters.telegram_bot.shared_limiter import SharedTelegramLimiter
from core import i18n
from core.identity import Platform

log = logging.getLogger(__name__)

COMMANDS = ("edit", "settings", "usage", "skip", "cancel", "help")
ADMIN_MENU = ("stats", "limits", "setlimit", "grant", "take", "resetusage", "block", "unblock", "audit")


def _bot_request(pool: int = 256) -> AiohttpRequest:
    """PTB's request object for every call but getUpdates: on aiohttp (six times cheaper per
    request than httpx, :mod:`adapters.telegram_bot.aiohttp_request`), with PTB's default pool size
    (256 connections) and our timeouts."""
    return AiohttpRequest(
        connection_pool_size=pool,
        connect_timeout=10,
        read_timeout=30,
        write_timeout=60,
        media_write_timeout=120,
    )


def build_application(
    settings: TelegramSettings, core: Host, *, album_delay: float = 1.0
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A PTB Application wired to the core; its outbox and fetcher are attached to the job runner."""
    # Opt in to PTB 22's timedelta durations now, instead of a deprecation warning per 429.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    assert settings.telegram_token is not None
    inbox = Inbox(core.store, core.runner.worker_id, settings.job_stale_after)
    app = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .update_queue(inbox)
        # getUpdates confirms the previous batch: it waits until the inbox has stored it.
        .get_updates_request(ReceiptRequest(inbox.confirmable))
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(
            SharedTelegramLimiter(
                core.telemetry,
                core.budget,
                rate=settings.telegram_rate,
                group_per_minute=settings.telegram_group_rate,
                max_retries=3,
            )
            if core.budget is not None  # several processes: the token's limits are shared (issue 14)
            else MeteredRateLimiter(
                core.telemetry,
                settings.telegram_rate,
                settings.telegram_group_rate,
                max_retries=3,
            )
        )
        .concurrent_updates(PerUserOrder(256, on_handled=inbox.handled, guard=core.guard))
        .request(_bot_request())
        .build()
    )
    outbox = TelegramOutbox(app.bot, settings.web_url)
    # Several processes on PostgreSQL: conversations in order and albums collected across them.
    shared = SharedAlbums(core.guard, app.bot, inbox) if core.guard is not None else None
    handlers = TelegramHandlers(
        core.engine,
        outbox,
        PreferencesMenu(core.engine, outbox),
        album_delay,
        on_album=inbox.albums_handled,
        shared_albums=shared,
    )
    handlers.register(app)
    app.bot_data["handlers"] = handlers
    app.bot_data["inbox"] = inbox
    core.attach(Platform.TELEGRAM, outbox, TelegramFetcher(app.bot))
    core.alerts.attach(Platform.TELEGRAM, TelegramDirect(app.bot))  # owner alerts (issue 13)
    return app


async def register_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """setMyCommands in every catalog language (Telegram picks by the user's language)."""
    for locale in i18n.available():
        commands = [BotCommand(c, wording.render(locale, f"command_{c}")) for c in COMMANDS]
        admin = commands + [BotCommand(c, wording.render(locale, f"command_{c}")) for c in ADMIN_MENU]
        language = None if locale == i18n.FALLBACK else locale.split("-")[0]
        await app.bot.set_my_commands(commands, language_code=language)
        # Group admins see the admin commands in their menu too; everyone else is spared them.
        await app.bot.set_my_commands(
            admin, scope=BotCommandScopeAllChatAdministrators(), language_code=language
        )


def webhook_secret(settings: TelegramSettings) -> str:
    """The secret Telegram must send with webhook calls: configured, or derived from the token."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    assert settings.telegram_token is not None
    return hashlib.sha256(
        b"editbot-webhook:" + settings.telegram_token.get_secret_value().encode()
    ).hexdigest()


@asynccontextmanager
async def run_telegram(
    settings: TelegramSettings, core: Host, *, album_delay: float = 1.0
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run the bot until the context exits: polling by default, a webhook when a URL is configured."""
    app = build_application(settings, core, album_delay=album_delay)
    async with app:
        await register_commands(app)
        await app.start()
        assert app.updater is not None
        allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
        if settings.telegram_webhook_url:
            url = settings.telegram_webhook_url
            path = url.split("://", 1)[-1].partition("/")[2]
            await app.updater.start_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=path,
                webhook_url=url,
                secret_token=webhook_secret(settings),
                allowed_updates=allowed,
            )
            log.info(
                "Telegram webhook listening on %s:%s",
                settings.telegram_webhook_listen,
                settings.telegram_webhook_port,
            )
        else:
            app.bot_data["inbox"].polling = True  # the next getUpdates is the receipt
            await app.updater.start_polling(allowed_updates=allowed)

        async def stop_intake() -> None:
            # Idempotent: the core calls it on a graceful stop, the exit below in any case.
            assert app.updater is not None
            await app.bot_data["inbox"].stop()
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()  # waits for the handlers in flight (they may start edits)
            await app.bot_data["handlers"].albums.close()
            await app.bot_data["inbox"].close()  # after the last handler: its "handled" mark

        inbox: Inbox = app.bot_data["inbox"]
        inbox.start(app.bot, core.runner.config.heartbeat_interval)
        core.on_stop_intake(stop_intake)
        try:
            yield app
        finally:
            await stop_intake()


@asynccontextmanager
async def send_telegram(
    settings: TelegramSettings, core: Host
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The bot for a worker (``editbot run --role worker``): it delivers results, takes no updates.

    The Bot API needs no connection of ours to send: an initialised Application (its rate
    limiter, its Bot) is enough; no polling, no webhook, no inbox.
    """
    app = build_application(settings, core)
    async with app:
        yield app
