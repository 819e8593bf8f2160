"""``editbot chat``: try the whole edit flow in a terminal, with the bots' engine, database and edit API."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from adapters.console.frontend import ConsoleFrontend, ConsoleOutbox, FileFetcher
from bots.bootstrap import open_core
from bots.logs import configure_logging
from bots.settings import load_settings
from core.i18n import pick_locale
from core.identity import Platform

NAME = "chat"
HELP = "edit images in this terminal: /photo PATH, /mask PATH, then type what to change"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``editbot chat``."""
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for result images (default: .)")
    parser.add_argument("--lang", default="en", help="language of the replies (en, zh-CN)")


async def _main(args: argparse.Namespace) -> None:
    settings = load_settings()
    configure_logging(settings, default="WARNING")  # a terminal session: warnings only, unless asked
    locale = pick_locale(args.lang)
    outbox = ConsoleOutbox(sys.stdout, args.out, locale)
    async with open_core(settings) as core:
        core.runner.attach(Platform.CONSOLE, outbox, FileFetcher())
        async with core.running():
            await ConsoleFrontend(core.engine, outbox, locale).run(sys.stdin)


def run(args: argparse.Namespace) -> int:
    """Run the console front end until /quit or end of input."""
    asyncio.run(_main(args))
    return 0
