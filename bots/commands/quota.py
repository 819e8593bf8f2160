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
from core.admin import audit_line
from core.admin_args import MAX_CREDITS
from core.i18n import render
from core.identity import Community, Platform, UserKey
from core.quotas.limits import EVERYWHERE, GLOBAL_KEY, LimitKind, LimitResolver
from core.quotas.rules import QuotaPolicy, format_time
from core.reports import CSV_FIELDS, daily_rows
from core.storage.db import create_engine, create_sessionmaker
from core.storage.migrate import upgrade_engine
from core.storage.protocol import AuditEntry, community_scope_key, member_scope_key, user_scope_key
from core.storage.sql_store import SqlStore

NAME = "quota"
HELP = "show and change quotas, grant credits, block users, export usage as CSV"

KINDS = ("community", "members", "member", "user", "global")


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
    change.add_argument("kind", choices=KINDS)
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
    export.add_argument("--by", choices=("user", "community"), default="user", help="one row per ... per day")
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
    action = args.quota_action
    _check(args)
    async with _open(url) as store:
        now = datetime.now(UTC)
        ctx = _Ctx(store, policy, LimitResolver(store, policy), now, sys.stdout)
        if action == "show":
            await _show(ctx, args.community, args.user)
        elif action == "set":
            await _set(ctx, args)
        elif action in ("grant", "take"):
            await _grant(ctx, args, -args.credits if action == "take" else args.credits)
        elif action == "reset":
            await _reset(ctx, args)
        elif action in ("block", "unblock"):
            await _block(ctx, args, action == "block")
        elif action == "audit":
            await _audit(ctx, args)
        else:
            await _export(ctx, args)
    return 0


def _check(args: argparse.Namespace) -> None:
    """Combinations argparse cannot express."""
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


def _entry(
    action: str, *, community: Community | None, user: UserKey | None, **details: object
) -> AuditEntry:
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        name = None
    return AuditEntry(
        actor="operator",
        actor_name=f"operator ({name})" if name else "operator",
        action=action,
        community=community_scope_key(community) if community else None,
        target=str(user) if user else None,
        details=dict(details),
    )


async def _show(ctx: _Ctx, community: Community | None, user: UserKey | None) -> None:
    policy = ctx.policy
    reset = format_time(policy.next_reset(ctx.now), policy.timezone)
    ctx.say(
        f"period: {policy.period} in {policy.timezone}, started {format_time(ctx.start, policy.timezone)}"
    )
    ctx.say(f"resets: {reset}")
    if user is None and community is None:
        ctx.say(f"defaults: user {policy.user_limit}, community {policy.community_limit} credits per period")
        anyone = UserKey(Platform.CONSOLE, "-")
        glob = (await ctx.limits.resolve(anyone, None)).scopes[-1]
        snap = await ctx.store.usage("global", GLOBAL_KEY, ctx.start)
        cap = "none" if glob.limit is None else str(glob.limit)
        ctx.say(f"global: used {snap.used}, cap {cap}")
        return
    if community is not None and user is None:
        key = community_scope_key(community)
        resolved = await ctx.limits.resolve(UserKey(community.platform, "-"), community)
        pool = resolved.scopes[1]
        snap = await ctx.store.usage("community", key, ctx.start)
        left = max(0, (pool.limit or 0) - snap.used)
        ctx.say(f"community {key}: used {snap.used} of {pool.limit} (left {left})")
        for override in await ctx.store.community_limits(key):
            label = f" ({override.label})" if override.label else ""
            ctx.say(f"  override {override.kind} {override.key}{label}: {override.limit}")
        return
    assert user is not None
    resolved = await ctx.limits.resolve(user, community)
    own = resolved.scopes[0]
    snap = await ctx.store.usage(own.kind, own.key, ctx.start)
    limit = own.limit or 0
    left = max(0, limit + snap.bonus - snap.used)
    ctx.say(f"{own.kind} {own.key}: used {snap.used} of {limit} + bonus {snap.bonus} (left {left})")
    if resolved.blocked is not None:
        ctx.say(f"blocked: {resolved.blocked}")


async def _set(ctx: _Ctx, args: argparse.Namespace) -> None:
    kind, community, user = args.kind, args.community, args.user
    if args.limit.lower() in ("off", "default", "none"):
        limit = None
    elif args.limit.isdigit() and int(args.limit) <= MAX_CREDITS:
        limit = int(args.limit)
    else:
        raise UsageError(f"N must be a whole number from 0 to {MAX_CREDITS}, or off")
    if kind == "global":
        key = GLOBAL_KEY
    elif kind == "user":
        if user is None:
            raise UsageError("set user needs --user")
        key = user_scope_key(user)
    elif community is None:
        raise UsageError(f"set {kind} needs --community")
    elif kind == "member":
        if user is None:
            raise UsageError("set member needs --user as well")
        key = member_scope_key(community, user)
    else:
        key = community_scope_key(community)
    keep_user = user if kind in ("member", "user") else None
    keep_community = community if kind in ("community", "members", "member") else None
    entry = _entry("set_limit", community=keep_community, user=keep_user)
    previous = await ctx.store.set_limit(LimitKind(kind).value, key, limit, entry)
    shown = "default" if limit is None else str(limit)
    ctx.say(f"{kind} {key}: limit {shown} (was {'default' if previous is None else previous})")


async def _grant(ctx: _Ctx, args: argparse.Namespace, credits: int) -> None:
    user, community = args.user, args.community
    own = (await ctx.limits.resolve(user, community)).scopes[0]
    action = "grant" if credits > 0 else "take"
    entry = _entry(action, community=community, user=user, credits=abs(credits), scope=own.kind)
    snap = await ctx.store.add_bonus(own.kind, own.key, ctx.start, credits, entry)
    left = max(0, (own.limit or 0) + snap.bonus - snap.used)
    ctx.say(f"{own.kind} {own.key}: bonus {snap.bonus}, used {snap.used}, left {left}")


async def _reset(ctx: _Ctx, args: argparse.Namespace) -> None:
    user, community = args.user, args.community
    if args.everything:
        kind, key = "global", GLOBAL_KEY
    elif user is not None:
        own = (await ctx.limits.resolve(user, community)).scopes[0]
        kind, key = own.kind, own.key
    else:
        kind, key = "community", community_scope_key(community)
    entry = _entry("reset_usage", community=community if kind != "global" else None, user=user, scope=kind)
    await ctx.store.reset_usage(kind, key, ctx.start, entry)
    ctx.say(f"{kind} {key}: usage reset to 0")


async def _block(ctx: _Ctx, args: argparse.Namespace, blocking: bool) -> None:
    user, community = args.user, args.community
    where = community_scope_key(community) if community else EVERYWHERE
    scope = "community" if community else "everywhere"
    entry = _entry("block" if blocking else "unblock", community=community, user=user, where=scope)
    changed = await ctx.store.set_block(str(user.platform), user.user_id, where, blocking, entry)
    state = "blocked" if blocking else "unblocked"
    ctx.say(
        f"{user}: {state} {'in ' + where if community else 'everywhere'}{'' if changed else ' (no change)'}"
    )


async def _audit(ctx: _Ctx, args: argparse.Namespace) -> None:
    community = community_scope_key(args.community) if args.community else None
    for entry in await ctx.store.audit_log(community=community, limit=max(1, args.n)):
        line = render("en", audit_line(entry, ctx.policy.timezone))
        ctx.say(f"[{entry.community}] {line}" if entry.community and community is None else line)


async def _export(ctx: _Ctx, args: argparse.Namespace) -> None:
    policy = ctx.policy
    since = policy.day_start(args.since) if args.since else ctx.start
    until = policy.day_start(args.until) if args.until else None
    activity = await ctx.store.job_activity(since=since, until=until)
    rows = daily_rows(activity, policy, by=args.by)
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
