"""``editbot db upgrade [REV] | downgrade [REV] | current``: manage the database schema.

The database is ``EDITBOT_DATABASE_URL``. ``editbot run`` upgrades to head on start-up by
itself; this command is for operators who migrate separately or need to go back.
"""

from __future__ import annotations

import argparse
import sys

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from bots.settings import load_settings
from core.storage import migrate

NAME = "db"
HELP = "Upgrade, downgrade or show the database schema (EDITBOT_DATABASE_URL)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``upgrade``, ``downgrade`` and ``current`` actions."""
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="migrate to REV (default: head, the newest)")
    up.add_argument("revision", nargs="?", default="head", metavar="REV")
    down = actions.add_parser("downgrade", help="migrate back to REV (default: -1; 'base' drops everything)")
    down.add_argument("revision", nargs="?", default="-1", metavar="REV")
    actions.add_parser("current", help="show the database's revision and the newest one")


def run(args: argparse.Namespace) -> int:
    """Do the chosen action; 0 on success, 1 when the database refuses."""
    url = load_settings().database_url
    try:
        if args.db_action == "upgrade":
            migrate.upgrade(url, args.revision)
        elif args.db_action == "downgrade":
            migrate.downgrade(url, args.revision)
        revision = migrate.current(url)
    except (SQLAlchemyError, CommandError, OSError) as exc:
        # The driver's message names the problem (unreachable host, locked file, unknown revision).
        print(f"editbot db {args.db_action}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    head = migrate.head_revision()
    status = "up to date" if revision == head else f"newest is {head}"
    print(f"database at revision {revision or 'none (empty)'} ({status})")
    return 0
