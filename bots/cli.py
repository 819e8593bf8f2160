"""The ``editbot`` command. Each subcommand lives in ``bots/commands/<name>.py``.

A subcommand module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``;
they are discovered here, so adding one touches no other file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from adapters.discord_bot import wording as discord_wording
from adapters.telegram_bot import wording as telegram_wording
from bots import commands
from core.errors import ConfigError
from core.i18n import check_catalogs


def installed_version() -> str:
    """The installed distribution's version (what ``editbot --version`` prints)."""
    try:
        return version("editbot")
    except PackageNotFoundError:  # run from a bare checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand found in ``bots.commands``."""
    parser = argparse.ArgumentParser(
        prog="editbot", description="Edit photos with AI in Telegram and Discord."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"bots.commands.{info.name}")
        name = getattr(module, "NAME", info.name)
        child = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(child)
        child.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        # Every command shows catalog texts; a broken installation says so before doing anything.
        check_catalogs(telegram_wording.LOCALES, discord_wording.LOCALES)
        return int(args._run(args))
    except ConfigError as exc:
        print(f"editbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
