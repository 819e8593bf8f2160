"""``editbot run``: start every bot whose token is set, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bots.bootstrap import open_core
from bots.logs import configure_logging
from bots.metrics import check_port
from bots.settings import Settings, load_settings
from bots.web import check_web_port, serving_web
from core.errors import ConfigError
from core.queue import Role

NAME = "run"
HELP = "run the Telegram and/or Discord bot (whichever tokens are set)"

log = logging.getLogger("editbot")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``editbot run``."""
    parser.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.ALL.value,
        help="all (default): one process does everything; gateway: take updates in and enqueue "
        "jobs; worker: run queued jobs and deliver them (gateway/worker need PostgreSQL)",
    )
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (default: EDITBOT_LOG_LEVEL, else INFO)"
    )


def check_tokens(settings: Settings) -> None:
    """Say clearly what is missing when no bot can start."""
    if settings.telegram_token is None and settings.discord_token is None:
        raise ConfigError(
            "no bot to run: set EDITBOT_TELEGRAM_TOKEN (from @BotFather) and/or EDITBOT_DISCORD_TOKEN "
            "(Discord Developer Portal -> your application -> Bot -> Reset Token), "
            "in the environment or in .env"
        )


async def serve(settings: Settings, stop: asyncio.Event, role: Role = Role.ALL) -> None:
    """Run the configured bots in ``role`` until ``stop`` is set."""
    check_tokens(settings)
    async with open_core(settings, role=role) as core, contextlib.AsyncExitStack() as bots:
        # Up first: /healthz answers while the bots connect (the painter's pages wait for them).
        await bots.enter_async_context(serving_web(core, settings))
        if settings.telegram_token is not None:
            from adapters.telegram_bot.runner import run_telegram, send_telegram

            if role.takes_updates:
                core.health.add("telegram", lambda: False)  # not ready until connected
                app = await bots.enter_async_context(run_telegram(settings, core))
                core.health.add("telegram", lambda: app.running and bool(app.updater and app.updater.running))
                log.info("Telegram bot running")
            else:
                await bots.enter_async_context(send_telegram(settings, core))
                log.info("Telegram sender ready")
        if settings.discord_token is not None:
            from adapters.discord_bot.runner import run_discord

            core.health.add("discord", lambda: False)
            bot = await bots.enter_async_context(run_discord(settings, core, gateway=role.takes_updates))
            if role.takes_updates:
                core.health.add("discord", lambda: bot.is_ready() and not bot.is_closed())
                log.info("Discord bot running")
            else:
                core.health.add("discord", lambda: not bot.is_closed())
                log.info("Discord sender ready")
        await bots.enter_async_context(core.running())
        log.info("editbot ready (role %s) as %s", role, core.runner.worker_id)
        await stop.wait()
        log.info("stopping")


def run(args: argparse.Namespace) -> int:
    """Load settings and serve until SIGINT/SIGTERM."""
    settings = load_settings()
    configure_logging(settings, args.log_level)
    check_tokens(settings)
    check_port(settings)
    check_web_port(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop, Role(args.role))

    asyncio.run(main())
    return 0
