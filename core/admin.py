"""The admin service: community admins and bot owners show and change limits, grant and take
credits, reset usage, block users, read the audit log and the stats. Reached through
``ConversationEngine.handle`` with an :class:`core.events.AdminCommand` (or a plain ``Command``
with one of :data:`ADMIN_COMMANDS` as its name).

Who may do what (``Origin.role``; owners are EDITBOT_ADMINS, recognised here whatever the
adapter said):

    member, anywhere              every command: a polite refusal (``admin_not_allowed``; in a
                                  private chat ``admin_use_in_community``)
    admin, in their community     everything about that community and its members
    owner, in a community         the same, plus the global cap, personal limits, blocks everywhere
    owner, in a private chat      global and personal things: the cap, a user's personal limit,
                                  grants/resets of personal quotas, blocks everywhere, every
                                  audit entry, bot-wide stats; community settings answer
                                  ``admin_use_in_community``

Invariants: refusals change nothing and are private replies; every change is one store call
that writes its audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import admin_args, errors
from core.actions import Action, OutputImage, SendError, SendImage, SendText, Text
from core.charts import HEIGHT, WIDTH, render_daily_chart
from core.clock import utcnow
from core.events import AdminCommand, Origin, Role
from core.i18n import render
from core.identity import Community, UserKey
from core.quotas.limits import EVERYWHERE, GLOBAL_KEY, LimitKind, LimitResolver
from core.quotas.rules import QuotaPolicy, format_time
from core.reports import chart_days, summarize
from core.storage.protocol import (
    AuditEntry,
    QuotaScope,
    Store,
    community_scope_key,
    member_scope_key,
    user_scope_key,
)

ADMIN_COMMANDS = frozenset(
    {"limits", "setlimit", "grant", "take", "resetusage", "block", "unblock", "audit", "stats"}
)
"""Command names the engine hands to :class:`AdminService`."""

AUDIT_DEFAULT = 10
AUDIT_MAX = 50
OVERRIDES_SHOWN = 15
TOP_MEMBERS = 5


def lines(texts: Sequence[Text]) -> Text:
    """Several catalog messages as one, a line each (rendered in the reader's language)."""
    if not texts:
        return Text("admin_empty")
    joined = texts[-1]
    for text in reversed(texts[:-1]):
        joined = Text("admin_lines", {"first": text, "rest": joined})
    return joined


@dataclass(frozen=True, slots=True)
class _Call:
    """One admin command being handled: who, where, with which words and target."""

    origin: Origin
    role: Role
    name: str
    words: tuple[str, ...]
    target: UserKey | None
    target_name: str | None
    period: Text = field(default_factory=lambda: Text("period_day"))

    @property
    def community(self) -> Community | None:
        """Where the command was sent (None: a private chat)."""
        return self.origin.community

    @property
    def community_key(self) -> str | None:
        """That community's scope key."""
        return community_scope_key(self.origin.community) if self.origin.community else None

    @property
    def who(self) -> str:
        """How to name the target in replies."""
        if self.target is None:
            return ""
        return self.target_name or self.target.user_id

    def need_target(self) -> UserKey:
        """The member acted on; :class:`core.errors.TargetMissing` without one."""
        if self.target is None:
            raise errors.TargetMissing()
        return self.target

    def need_community(self) -> Community:
        """The community; :class:`core.errors.CommunityOnly` in a private chat."""
        if self.origin.community is None:
            raise errors.CommunityOnly()
        return self.origin.community

    def need_owner(self) -> None:
        """Raise :class:`core.errors.OwnerOnly` unless the caller is a bot owner."""
        if self.role is not Role.OWNER:
            raise errors.OwnerOnly()


class AdminService:
    """Runs admin commands against the store; see the module docstring for the permissions."""

    def __init__(
        self,
        store: Store,
        limits: LimitResolver,
        *,
        owners: Iterable[UserKey] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._limits = limits
        self._owners = frozenset(owners)
        self._clock = clock
        self._handlers: dict[str, Callable[[_Call], Awaitable[list[Action]]]] = {
            "limits": self._show_limits,
            "setlimit": self._set_limit,
            "grant": self._grant,
            "take": self._grant,
            "resetusage": self._reset,
            "block": self._block,
            "unblock": self._block,
            "audit": self._audit,
            "stats": self._stats,
        }

    @property
    def policy(self) -> QuotaPolicy:
        """The quota policy (defaults, period, time zone)."""
        return self._limits.policy

    def role_of(self, origin: Origin) -> Role:
        """Owner if listed in EDITBOT_ADMINS; admin if the adapter said so, in a community; else member.

        An adapter cannot make anyone an owner: ``role="owner"`` from an adapter counts as admin.
        """
        if origin.user in self._owners:
            return Role.OWNER
        if origin.community is not None and origin.role in (Role.ADMIN, Role.OWNER):
            return Role.ADMIN
        return Role.MEMBER

    async def handle(self, origin: Origin, command: AdminCommand) -> list[Action]:
        """Run one admin command; refusals and usage hints come back as private errors."""
        name = command.name.lower()
        handler = self._handlers.get(name)
        if handler is None:
            return [SendText(origin, Text("unknown_command", {"name": name}))]
        try:
            call = self._call(origin, name, command)
            if call.role is Role.MEMBER:
                raise errors.NotAllowed() if origin.community is not None else errors.CommunityOnly()
            return await handler(call)
        except errors.NotAllowed as exc:
            return [SendError(origin, exc.kind, {"command": name}, private=True)]
        except errors.BadCommand as exc:
            usage = Text(f"admin_usage_{name}")
            return [SendError(origin, exc.kind, {"command": name, "usage": usage}, private=True)]

    def _call(self, origin: Origin, name: str, command: AdminCommand) -> _Call:
        role = self.role_of(origin)
        if role is Role.MEMBER:  # refuse before parsing anything
            return _Call(origin, role, name, (), None, None)
        parsed = admin_args.split(command.args, origin.user.platform)
        target = command.target or parsed.target
        if target is not None and target.platform is not origin.user.platform:
            raise errors.BadCommand("target on another platform")
        name_shown = command.target_name if command.target is not None else None
        period = Text(f"period_{self.policy.period}")
        return _Call(origin, role, name, parsed.words, target, name_shown, period)

    def _entry(
        self, call: _Call, action: str, *, community: str | None, with_target: bool = True, **details: Any
    ) -> AuditEntry:
        """The audit row of a change by the caller (naming the target unless ``with_target`` is False)."""
        target = call.target if with_target else None
        return AuditEntry(
            actor=str(call.origin.user),
            action=action,
            community=community,
            target=str(target) if target is not None else None,
            details=details,
            actor_name=call.origin.user_name,
            target_name=call.target_name if target is not None else None,
        )

    def _reply(self, call: _Call, *texts: Text) -> list[Action]:
        return [SendText(call.origin, lines(texts))]

    async def _scope_of(self, call: _Call, target: UserKey) -> QuotaScope:
        """The target's own scope (member here, or personal in a private chat) with its limit."""
        resolved = await self._limits.resolve(target, call.community)
        return resolved.scopes[0]

    # -- /limits -------------------------------------------------------------------------

    async def _show_limits(self, call: _Call) -> list[Action]:
        now = self._clock()
        start = self.policy.period_start(now)
        reset = format_time(self.policy.next_reset(now), self.policy.timezone)
        if call.target is not None:
            resolved = await self._limits.resolve(call.target, call.community)
            scope = resolved.scopes[0]
            snap = await self._store.usage(scope.kind, scope.key, start)
            limit = scope.limit or 0
            params = {
                "target": call.who,
                "limit": limit,
                "extra": _extra(snap.bonus),
                "used": snap.used,
                "left": max(0, limit + snap.bonus - snap.used),
                "period": call.period,
            }
            texts = [Text("limits_member" if call.community else "limits_user", params)]
            if resolved.blocked is not None:
                texts.append(Text(f"limits_blocked_{resolved.blocked}", {"target": call.who}))
            return self._reply(call, *texts)
        if call.community is None:
            texts = [
                Text(
                    "limits_defaults",
                    {
                        "user": self.policy.user_limit,
                        "community": self.policy.community_limit,
                        "period": call.period,
                        "reset": reset,
                    },
                )
            ]
            return self._reply(call, *texts, await self._global_line(call, start))
        key = call.community_key or ""
        overrides = await self._store.community_limits(key)
        found = {o.kind: o for o in overrides if o.kind != LimitKind.MEMBER}
        pool_limit = found["community"].limit if "community" in found else self.policy.community_limit
        members = found["members"].limit if "members" in found else self.policy.user_limit
        pool = await self._store.usage("community", key, start)
        texts = [
            Text(
                "limits_community",
                {
                    "pool": pool_limit,
                    "pool_used": pool.used,
                    "pool_left": max(0, pool_limit - pool.used),
                    "members": members,
                    "period": call.period,
                    "reset": reset,
                },
            )
        ]
        singles = [o for o in overrides if o.kind == LimitKind.MEMBER]
        for o in singles[:OVERRIDES_SHOWN]:
            name = o.label or o.key.rpartition("/")[2]
            texts.append(Text("limits_override_line", {"name": name, "limit": o.limit}))
        if len(singles) > OVERRIDES_SHOWN:
            texts.append(Text("limits_overrides_more", {"count": len(singles) - OVERRIDES_SHOWN}))
        if call.role is Role.OWNER:
            texts.append(await self._global_line(call, start))
        return self._reply(call, *texts)

    async def _global_line(self, call: _Call, start: datetime) -> Text:
        snap = await self._store.usage("global", GLOBAL_KEY, start)
        found = await self._store.get_limits([(LimitKind.GLOBAL.value, GLOBAL_KEY)])
        cap = found.get((LimitKind.GLOBAL.value, GLOBAL_KEY), self.policy.global_limit)
        if cap is None:
            return Text("limits_global_uncapped", {"used": snap.used, "period": call.period})
        left = max(0, cap - snap.used)
        return Text("limits_global", {"used": snap.used, "limit": cap, "left": left, "period": call.period})

    # -- /setlimit -----------------------------------------------------------------------

    async def _set_limit(self, call: _Call) -> list[Action]:
        parsed = admin_args.parse_setlimit(call.words)
        what = parsed.what
        if what is None:
            if call.target is None:
                raise errors.BadCommand("what to limit")
            what = "member" if call.community is not None else "user"
        kind, key, default, target = await self._limit_scope(call, what)
        community = call.community_key if what in ("community", "members", "member") else None
        entry = self._entry(call, "set_limit", community=community, with_target=target is not None)
        label = call.target_name if target is not None else None
        previous = await self._store.set_limit(kind, key, parsed.limit, entry, label=label)
        what_text = Text(f"limit_what_{what}", {"target": call.who})
        default_text: int | Text = default if default is not None else Text("limit_unlimited")
        if parsed.limit is None:
            return self._reply(
                call, Text("limit_cleared", {"what": what_text, "limit": default_text, "period": call.period})
            )
        was: int | Text = previous if previous is not None else Text("limit_default", {"limit": default_text})
        params = {"what": what_text, "limit": parsed.limit, "previous": was, "period": call.period}
        return self._reply(call, Text("limit_set", params))

    async def _limit_scope(self, call: _Call, what: str) -> tuple[str, str, int | None, UserKey | None]:
        """(kind, key, default limit, target) of what ``/setlimit`` changes; checks permissions."""
        policy = self.policy
        if what == "global":
            call.need_owner()
            return LimitKind.GLOBAL.value, GLOBAL_KEY, policy.global_limit, None
        if what == "user":
            call.need_owner()
            target = call.need_target()
            return LimitKind.USER.value, user_scope_key(target), policy.user_limit, target
        community = call.need_community()
        key = community_scope_key(community)
        if what == "community":
            return LimitKind.COMMUNITY.value, key, policy.community_limit, None
        if what == "members":
            return LimitKind.MEMBERS.value, key, policy.user_limit, None
        target = call.need_target()
        found = await self._store.get_limits([(LimitKind.MEMBERS.value, key)])
        default = found.get((LimitKind.MEMBERS.value, key), policy.user_limit)
        return LimitKind.MEMBER.value, member_scope_key(community, target), default, target

    # -- /grant, /take, /resetusage ------------------------------------------------------

    async def _grant(self, call: _Call) -> list[Action]:
        credits = admin_args.parse_amount(call.words)
        target = call.need_target()
        scope = await self._scope_of(call, target)
        start = self.policy.period_start(self._clock())
        taking = call.name == "take"
        entry = self._entry(
            call,
            "take" if taking else "grant",
            community=call.community_key,
            credits=credits,
            scope=scope.kind,
        )
        snap = await self._store.add_bonus(
            scope.kind, scope.key, start, -credits if taking else credits, entry
        )
        left = max(0, (scope.limit or 0) + snap.bonus - snap.used)
        params = {"target": call.who, "credits": credits, "left": left, "period": call.period}
        return self._reply(call, Text("credits_taken" if taking else "credits_granted", params))

    async def _reset(self, call: _Call) -> list[Action]:
        start = self.policy.period_start(self._clock())
        # "community" and "global" win over a target (a reply the command happened to be sent in).
        if call.words == ("community",):
            key = community_scope_key(call.need_community())
            entry = self._entry(call, "reset_usage", community=key, with_target=False, scope="community")
            await self._store.reset_usage("community", key, start, entry)
            return self._reply(call, Text("usage_reset_community", {"period": call.period}))
        if call.words == ("global",):
            call.need_owner()
            entry = self._entry(call, "reset_usage", community=None, with_target=False, scope="global")
            await self._store.reset_usage("global", GLOBAL_KEY, start, entry)
            return self._reply(call, Text("usage_reset_global", {"period": call.period}))
        if call.words:
            raise errors.BadCommand("bad arguments")
        target = call.need_target()
        scope = await self._scope_of(call, target)
        entry = self._entry(call, "reset_usage", community=call.community_key, scope=scope.kind)
        snap = await self._store.reset_usage(scope.kind, scope.key, start, entry)
        left = max(0, (scope.limit or 0) + snap.bonus)
        return self._reply(
            call, Text("usage_reset", {"target": call.who, "left": left, "period": call.period})
        )

    # -- /block, /unblock ----------------------------------------------------------------

    async def _block(self, call: _Call) -> list[Action]:
        target = call.need_target()
        everywhere = admin_args.wants_everywhere(call.words) or call.community is None
        if everywhere:
            call.need_owner()
        blocking = call.name == "block"
        if blocking and target in self._owners:
            return [SendText(call.origin, Text("block_owner_refused", {"target": call.who}), private=True)]
        where = EVERYWHERE if everywhere else (call.community_key or "")
        scope = "everywhere" if everywhere else "community"
        entry = self._entry(
            call, call.name, community=None if everywhere else call.community_key, where=scope
        )
        changed = await self._store.set_block(str(target.platform), target.user_id, where, blocking, entry)
        if changed:
            key = f"user_{'blocked' if blocking else 'unblocked'}_{scope}"
        else:
            key = "user_already_blocked" if blocking else "user_not_blocked"
        return self._reply(call, Text(key, {"target": call.who}))

    # -- /audit, /stats ------------------------------------------------------------------

    async def _audit(self, call: _Call) -> list[Action]:
        count = admin_args.parse_count(call.words, AUDIT_DEFAULT, AUDIT_MAX)
        everything = call.community is None  # an owner in a private chat sees every entry
        entries = await self._store.audit_log(community=call.community_key, limit=count)
        if not entries:
            return self._reply(call, Text("audit_empty"))
        tz = self.policy.timezone
        texts = [Text("audit_header", {"count": len(entries)})]
        for entry in entries:
            line = audit_line(entry, tz)
            if everything and entry.community:
                line = Text("audit_in", {"where": entry.community, "line": line})
            texts.append(line)
        return self._reply(call, *texts)

    async def _stats(self, call: _Call) -> list[Action]:
        now = self._clock()
        policy = self.policy
        days = chart_days(policy, now)
        since = min(policy.day_start(days[0]), policy.period_start(now))
        community = call.community
        activity = await self._store.job_activity(
            since=since,
            platform=str(community.platform) if community else None,
            community_id=community.id if community else None,
        )
        report = summarize(activity, policy, now, days=days, top=TOP_MEMBERS)
        totals = {
            "period": call.period,
            "edits": report.edits,
            "credits": report.credits,
            "failed": report.failed,
        }
        texts = [Text("stats_summary" if community else "stats_summary_global", totals)]
        if community is not None:
            pool = (await self._limits.resolve(call.origin.user, community)).scopes[1]
            snap = await self._store.usage(pool.kind, pool.key, report.period_start)
            limit = pool.limit or 0
            texts.append(
                Text("stats_pool", {"used": snap.used, "limit": limit, "left": max(0, limit - snap.used)})
            )
        if call.role is Role.OWNER:
            texts.append(Text("stats_cost", {"cost": f"{report.cost:.2f}"}))
        if report.top:
            texts.append(Text("stats_top_header"))
            for rank, member in enumerate(report.top, 1):
                name = member.name or member.user_id
                params = {"rank": rank, "name": name, "credits": member.credits, "edits": member.edits}
                texts.append(Text("stats_top_line", params))
        else:
            texts.append(Text("stats_no_edits", {"period": call.period}))
        png = await render_daily_chart(report.per_day, today=days[-1])
        total = sum(count for _, count in report.per_day)
        caption = render(
            call.origin.locale,
            Text(
                "stats_chart_caption",
                {"start": days[0].isoformat(), "end": days[-1].isoformat(), "total": total},
            ),
        )
        chart = OutputImage(png, f"stats-{days[-1]:%Y%m%d}.png", "image/png", WIDTH, HEIGHT)
        return [*self._reply(call, *texts), SendImage(call.origin, "", (chart,), caption)]


def audit_line(entry: AuditEntry, timezone: str) -> Text:
    """One audit entry as a catalog message (``audit_<action>[_<variant>]``)."""
    details = entry.details
    params: dict[str, Any] = {
        "when": format_time(entry.at, timezone) if entry.at else "",
        "actor": entry.actor_name or entry.actor,
        "target": entry.target_name or (entry.target or "").partition(":")[2] or entry.target or "",
        "credits": details.get("credits", ""),
        "action": entry.action,
    }
    match entry.action:
        case "set_limit":
            kind = str(details.get("kind", ""))
            params["what"] = Text(f"audit_what_{kind}", {"target": params["target"]})
            if details.get("limit") is None:
                return Text("audit_set_limit_off", params)
            return Text("audit_set_limit", {**params, "limit": details["limit"]})
        case "grant" | "take":
            return Text(f"audit_{entry.action}", params)
        case "reset_usage":
            scope = details.get("scope")
            if scope in ("community", "global"):
                return Text(f"audit_reset_usage_{scope}", params)
            return Text("audit_reset_usage", params)
        case "block" | "unblock":
            suffix = "_everywhere" if details.get("where") == "everywhere" else ""
            return Text(f"audit_{entry.action}{suffix}", params)
    return Text("audit_other", params)


def _extra(bonus: int) -> Text | str:
    if bonus > 0:
        return Text("limits_extra_granted", {"credits": bonus})
    if bonus < 0:
        return Text("limits_extra_taken", {"credits": -bonus})
    return ""
