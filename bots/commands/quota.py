"""``editbot quota``: show and change limits, grant credits, block users, export usage as CSV.

For operators, on the database of EDITBOT_DATABASE_URL (migrated to the newest schema first).
Every change is written to the audit log as done by ``operator`` (with the OS user's name), the
same log admins read with /audit. Users and communities are written ``platform:id``, as in
EDITBOT_ADMINS: ``--user telegram:123``, ``--community discord:456``.

    editbot quota show [--community C] [--user U]
    editbot quota set community|members|member|user|global N|off [--community C] [--user U]
    editbot quota grant N --user U [--community C]      (take: the same, N fewer credits)
    editbot quota reset (--user U [--community C] | --community C | --global)
    editbot quota block|unblock --user U [--community C]   (without --community: everywhere)
    editbot quota audit [--community C] [-n N]
    editbot quota export [--since DATE] [--until DATE] [--by user|community] [-o FILE]

Exit status: 0 done, 1 the database failed, 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bots.settings import load_settings
from core import errors
from core.admin import AdminService, Caller
from core.admin_commands import (
    LIMIT_CHOICES,
    MAX_CREDITS,
    AdminRequest,
    ChangeCredits,
    ResetScope,
    ResetUsage,
    SetBlock,
    SetLimit,
    ShowAudit,
    ShowLimits,
    Target,
    limit_value,
)
from core.admin_replies import audit_line
from core.admin_results import (
    AdminResult,
    AuditPage,
    BlockChanged,
    CommunityLimits,
    CreditsChanged,
    DefaultLimits,
    LimitChanged,
    TargetLimits,
    UsageReset,
)
from core.events import Role
from core.i18n import explain, render
from core.identity import Community, UserKey
from core.quotas.limits import COMMUNITY_KINDS, BlockScope, LimitKind, LimitResolver
from core.quotas.rules import QuotaPolicy, format_time
from core.reports import CSV_FIELDS, RowsBy, daily_rows
from core.storage.db import create_engine, create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.sql_store import SqlStore

NAME = "quota"
HELP = "show and change quotas, grant credits, block users, export usage as CSV"


class UsageError(Exception):
    """Arguments that do not fit together (exit status 2)."""


def _user(text: str) -> UserKey:
    try:
        return UserKey.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected platform:id (e.g. telegram:123): {exc}") from None


def _community(text: str) -> Community:
    key = _user(text)
    return Community(key.platform, key.user_id)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date as YYYY-MM-DD") from None


def _where(parser: argparse.ArgumentParser, *, user: bool = True) -> None:
    parser.add_argument("--community", type=_community, metavar="PLATFORM:ID", help="a group or server")
    if user:
        parser.add_argument("--user", type=_user, metavar="PLATFORM:ID", help="a user")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the actions: show, set, grant, take, reset, block, unblock, audit, export."""
    actions = parser.add_subparsers(dest="quota_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="limits and this period's usage (global, a community, a user)")
    _where(show)
    change = actions.add_parser(
        "set", help="set a limit (N credits per period) or go back to the default (off)"
    )
    change.add_argument("kind", choices=LIMIT_CHOICES)  # LimitKind values, compared as text
    change.add_argument("limit", metavar="N|off")
    _where(change)
    for name, verb in (("grant", "give"), ("take", "take away")):
        grant = actions.add_parser(
            name, help=f"{verb} N credits for this period (a member, or a personal quota)"
        )
        grant.add_argument("credits", type=int, metavar="N")
        _where(grant)
    reset = actions.add_parser("reset", help="set this period's usage back to 0")
    _where(reset)
    reset.add_argument("--global", dest="everything", action="store_true", help="the bot-wide counter")
    for name in ("block", "unblock"):
        block = actions.add_parser(
            name, help=f"{name} a user in a community (everywhere without --community)"
        )
        _where(block)
    audit = actions.add_parser("audit", help="the latest admin changes")
    _where(audit, user=False)
    audit.add_argument("-n", type=int, default=20, help="how many (default 20)")
    export = actions.add_parser("export", help="usage per day as CSV (succeeded, failed, credits, cost)")
    export.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: this period's start)")
    export.add_argument("--until", type=_day, help="day after the last one, YYYY-MM-DD (default: none)")
    export.add_argument("--by", choices=tuple(RowsBy), default=RowsBy.USER, help="one row per ... per day")
    export.add_argument("-o", "--output", type=Path, help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    """Do the chosen action; 0 on success, 1 when the database refuses, 2 for bad arguments."""
    settings = load_settings()
    try:
        return asyncio.run(_main(args, settings.database_url, settings.quota_policy()))
    except UsageError as exc:
        print(f"editbot quota {args.quota_action}: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"editbot quota {args.quota_action}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


@dataclass(frozen=True, slots=True)
class _Ctx:
    store: SqlStore
    policy: QuotaPolicy
    limits: LimitResolver
    now: datetime
    out: TextIO

    @property
    def start(self) -> datetime:
        return self.policy.period_start(self.now)

    def say(self, line: str) -> None:
        print(line, file=self.out)


@asynccontextmanager
async def _open(url: str) -> AsyncIterator[SqlStore]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        await upgrade_engine(engine)
        yield SqlStore(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _main(args: argparse.Namespace, url: str, policy: QuotaPolicy) -> int:
    _check(args)
    async with _open(url) as store:
        now = datetime.now(UTC)
        ctx = _Ctx(store, policy, LimitResolver(store, policy), now, sys.stdout)
        if args.quota_action == "export":
            await _export(ctx, args)
            return 0
        service = AdminService(store, ctx.limits, clock=lambda: now)
        try:
            result = await service.run(_operator(args.community), _request(args))
        except (errors.NotAllowed, errors.BadCommand) as exc:  # _check lets none through; still, say so
            kind, details = explain(exc)
            raise UsageError(render("en", kind, **details)) from None
        _print(ctx, args, result)
    return 0


def _check(args: argparse.Namespace) -> None:
    """Combinations argparse cannot express, said in the operator's terms before anything runs."""
    community, user = getattr(args, "community", None), getattr(args, "user", None)
    if community is not None and user is not None and community.platform is not user.platform:
        raise UsageError("--community and --user must be on the same platform")
    action = args.quota_action
    if action in ("grant", "take", "block", "unblock") and user is None:
        raise UsageError("--user is required")
    if action in ("grant", "take") and not 1 <= args.credits <= MAX_CREDITS:
        raise UsageError(f"N must be between 1 and {MAX_CREDITS}")
    if action == "reset" and not (user or community or args.everything):
        raise UsageError("say whose usage: --user, --community or --global")
    if action == "set":
        try:
            limit_value(args.limit)
        except errors.BadCommand:
            raise UsageError(f"N must be a whole number from 0 to {MAX_CREDITS}, or off") from None
        if args.kind in (LimitKind.MEMBER, LimitKind.USER) and user is None:
            raise UsageError(f"set {args.kind} needs --user" + (" as well" if community else ""))
        if args.kind in COMMUNITY_KINDS and community is None:
            raise UsageError(f"set {args.kind} needs --community")


def _operator(community: Community | None) -> Caller:
    """The operator, acting in ``community`` (None: personal and global things)."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        name = None
    actor_name = f"operator ({name})" if name else "operator"
    return Caller("operator", Role.OWNER, community, actor_name, operator=True)


def _request(args: argparse.Namespace) -> AdminRequest:
    """The admin command the arguments ask for (the same commands chat and Discord produce)."""
    action = args.quota_action
    target = Target(args.user) if getattr(args, "user", None) is not None else None
    match action:
        case "show":
            return ShowLimits(target)
        case "set":
            return SetLimit(LimitKind(args.kind), args.limit, target)
        case "grant" | "take":
            return ChangeCredits(args.credits, target, taking=action == "take")
        case "reset":
            if args.everything:
                return ResetUsage(ResetScope.GLOBAL)
            return ResetUsage(ResetScope.OWN if target else ResetScope.COMMUNITY, target)
        case "block" | "unblock":
            return SetBlock(target, blocking=action == "block", everywhere=args.community is None)
    return ShowAudit(max(1, args.n))


def _print(ctx: _Ctx, args: argparse.Namespace, result: AdminResult) -> None:
    """The result as the operator reads it: plain English lines, keys and ids as stored."""
    policy = ctx.policy
    match result:
        case DefaultLimits() | CommunityLimits() | TargetLimits():
            started = format_time(ctx.start, policy.timezone)
            ctx.say(f"period: {policy.period} in {policy.timezone}, started {started}")
            ctx.say(f"resets: {format_time(policy.next_reset(ctx.now), policy.timezone)}")
    match result:
        case DefaultLimits(everyone=glob):
            ctx.say(
                f"defaults: user {policy.user_limit}, community {policy.community_limit} credits per period"
            )
            ctx.say(f"global: used {glob.used}, cap {'none' if glob.limit is None else glob.limit}")
        case CommunityLimits(key=key, pool=pool):
            ctx.say(f"community {key}: used {pool.used} of {pool.limit} (left {pool.left})")
            for override in result.overrides:
                label = f" ({override.label})" if override.label else ""
                ctx.say(f"  override {override.kind} {override.key}{label}: {override.limit}")
        case TargetLimits(own=own):
            snap = own.usage
            used = f"used {snap.used} of {own.limit} + bonus {snap.bonus}"
            ctx.say(f"{own.scope.kind} {own.scope.key}: {used} (left {own.left})")
            if result.blocked is not None:
                ctx.say(f"blocked: {result.blocked}")
        case LimitChanged(what=what, key=key, limit=limit, previous=previous):
            shown = "default" if limit is None else str(limit)
            ctx.say(f"{what} {key}: limit {shown} (was {'default' if previous is None else previous})")
        case CreditsChanged(own=own):
            snap = own.usage
            ctx.say(
                f"{own.scope.kind} {own.scope.key}: bonus {snap.bonus}, used {snap.used}, left {own.left}"
            )
        case UsageReset(kind=kind, key=key):
            ctx.say(f"{kind} {key}: usage reset to 0")
        case BlockChanged(target=target, blocking=blocking, where=where, key=key, changed=changed):
            state = "blocked" if blocking else "unblocked"
            place = "everywhere" if where is BlockScope.EVERYWHERE else f"in {key}"
            ctx.say(f"{target.user}: {state} {place}{'' if changed else ' (no change)'}")
        case AuditPage(entries=entries, everything=everything):
            for entry in entries:
                line = render("en", audit_line(entry, policy.timezone))
                ctx.say(f"[{entry.community}] {line}" if entry.community and everything else line)


async def _export(ctx: _Ctx, args: argparse.Namespace) -> None:
    policy = ctx.policy
    since = policy.day_start(args.since) if args.since else ctx.start
    until = policy.day_start(args.until) if args.until else None
    activity = await ctx.store.job_activity(since=since, until=until)
    rows = daily_rows(activity, policy, by=RowsBy(args.by))
    if args.output is not None:
        with args.output.open("w", newline="", encoding="utf-8") as handle:
            _write_csv(handle, rows)
        ctx.say(f"wrote {len(rows)} row(s) to {args.output}")
    else:
        _write_csv(ctx.out, rows)


def _write_csv(handle: TextIO, rows: list[dict[str, object]]) -> None:
    writer = csv.DictWriter(handle, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
