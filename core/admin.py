"""The admin service: community admins, bot owners and operators show and change limits, grant and
take credits, reset usage, block users, read the audit log and the stats.

One service for every front end. Chat reaches it through ``ConversationEngine.handle`` with an
:class:`core.events.AdminCommand` (its words parsed by :func:`core.admin_commands.parse`, or a
typed request from Discord's options), answered by :mod:`core.admin_replies`; ``editbot quota``
calls :meth:`AdminService.run` as the operator and prints the typed result.

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
    operator (command line)       what an owner may, in the community named on the command line;
                                  an owner can be blocked there

Invariants: refusals raise a :mod:`core.errors` exception naming the command, change nothing and
are private replies (worded by :func:`core.i18n.explain`); every change is one store call that
writes its audit row (built by :func:`_entry`, the one audit path) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core import errors
from core.actions import Action, SendError, SendText, Text
from core.admin_commands import (
    ADMIN_COMMANDS,
    MAX_CREDITS,
    AdminRequest,
    ChangeCredits,
    ResetScope,
    ResetUsage,
    SetBlock,
    SetLimit,
    ShowAudit,
    ShowLimits,
    ShowStats,
    Target,
    parse,
)
from core.admin_replies import reply
from core.admin_results import (
    AdminResult,
    AuditPage,
    BlockChanged,
    BlockRefused,
    CommunityLimits,
    CounterUse,
    CreditsChanged,
    DefaultLimits,
    LimitChanged,
    OwnQuota,
    Stats,
    TargetLimits,
    UsageReset,
)
from core.clock import utcnow
from core.events import AdminCommand, Origin, Role
from core.i18n import explain
from core.identity import Community, UserKey
from core.quotas.limits import COMMUNITY_KINDS, EVERYWHERE, GLOBAL_KEY, BlockScope, LimitKind, LimitResolver
from core.quotas.rules import QuotaPolicy
from core.reports import chart_days, summarize
from core.storage.protocol import (
    AuditEntry,
    QuotaScope,
    Store,
    community_scope_key,
    member_scope_key,
    user_scope_key,
)

__all__ = ["ADMIN_COMMANDS", "AdminService", "Caller"]

TOP_MEMBERS = 5


@dataclass(frozen=True, slots=True)
class Caller:
    """Who runs an admin command, with which rights, and in which community (None: a private chat)."""

    actor: str  # the audit log's actor: ``platform:id``, or ``operator``
    role: Role
    community: Community | None
    actor_name: str | None = None
    operator: bool = False  # the command line: an owner's rights, and owners are not spared

    @property
    def community_key(self) -> str | None:
        """The community's scope key."""
        return community_scope_key(self.community) if self.community is not None else None


@dataclass(frozen=True, slots=True)
class _Run:
    """One request being handled: by whom, and the name its refusals quote."""

    caller: Caller
    name: str

    def need_target(self, target: Target | None) -> Target:
        """The member acted on; :class:`core.errors.TargetMissing` without one."""
        if target is None:
            raise errors.TargetMissing(command=self.name)
        return target

    def need_community(self) -> Community:
        """The community; :class:`core.errors.CommunityOnly` in a private chat."""
        if self.caller.community is None:
            raise errors.CommunityOnly(command=self.name)
        return self.caller.community

    def need_owner(self) -> None:
        """Raise :class:`core.errors.OwnerOnly` unless the caller is a bot owner."""
        if self.caller.role is not Role.OWNER:
            raise errors.OwnerOnly(command=self.name)


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
        """Run one admin command sent in a chat; refusals and usage hints come back as private errors."""
        name = command.name.lower()
        if name not in ADMIN_COMMANDS:
            return [SendText(origin, Text("unknown_command", {"name": name}))]
        try:
            role = self.role_of(origin)
            if role is Role.MEMBER:  # refused before anything is parsed
                if origin.community is None:
                    raise errors.CommunityOnly(command=name)
                raise errors.NotAllowed(command=name)
            request = command.request
            if request is None:
                target = Target(command.target, command.target_name) if command.target else None
                request = parse(name, command.args, origin.user.platform, target)
            caller = Caller(str(origin.user), role, origin.community, origin.user_name)
            result = await self.run(caller, request)
        except (errors.NotAllowed, errors.BadCommand) as exc:
            kind, details = explain(exc)
            return [SendError(origin, kind, details, private=True)]
        return await reply(origin, result, self.policy)

    async def run(self, caller: Caller, request: AdminRequest) -> AdminResult:
        """Do what ``request`` asks as ``caller``; raises :class:`core.errors.NotAllowed` or
        :class:`core.errors.BadCommand` (naming the command) when it may not or cannot."""
        call = _Run(caller, request.name)
        match request:
            case ShowLimits(target=target):
                return await self._show_limits(call, target)
            case SetLimit():
                return await self._set_limit(call, request)
            case ChangeCredits():
                return await self._change_credits(call, request)
            case ResetUsage():
                return await self._reset(call, request)
            case SetBlock():
                return await self._block(call, request)
            case ShowAudit(count=count):
                entries = await self._store.audit_log(community=caller.community_key, limit=count)
                return AuditPage(tuple(entries), everything=caller.community is None)
            case ShowStats():
                return await self._stats(call)
        raise AssertionError(f"unhandled request {request!r}")  # pragma: no cover - the union is closed

    def _entry(
        self, call: _Run, action: str, *, community: str | None, target: Target | None, **details: Any
    ) -> AuditEntry:
        """The audit row of a change by the caller."""
        return AuditEntry(
            actor=call.caller.actor,
            action=action,
            community=community,
            target=str(target.user) if target is not None else None,
            details=details,
            actor_name=call.caller.actor_name,
            target_name=target.name if target is not None else None,
        )

    async def _own_scope(self, call: _Run, target: Target) -> QuotaScope:
        """The target's own scope (member here, or personal in a private chat) with its limit."""
        return (await self._limits.resolve(target.user, call.caller.community)).own

    # -- limits ------------------------------------------------------------------------------

    async def _show_limits(self, call: _Run, target: Target | None) -> AdminResult:
        now = self._clock()
        start = self.policy.period_start(now)
        reset = self.policy.next_reset(now)
        community = call.caller.community
        if target is not None:
            resolved = await self._limits.resolve(target.user, community)
            snap = await self._store.usage(resolved.own.kind, resolved.own.key, start)
            return TargetLimits(target, OwnQuota(resolved.own, snap), resolved.blocked, community is not None)
        if community is None:
            policy = self.policy
            glob = await self._global_use(start)
            return DefaultLimits(policy.user_limit, policy.community_limit, reset, glob)
        key = community_scope_key(community)
        overrides = await self._store.community_limits(key)
        found = {o.kind: o.limit for o in overrides if o.kind != LimitKind.MEMBER}
        pool_limit = found.get(LimitKind.COMMUNITY, self.policy.community_limit)
        pool = await self._store.usage(LimitKind.COMMUNITY, key, start)
        owner = call.caller.role is Role.OWNER
        return CommunityLimits(
            key=key,
            pool=CounterUse(pool.used, pool_limit),
            members_limit=found.get(LimitKind.MEMBERS, self.policy.user_limit),
            overrides=tuple(overrides),
            reset=reset,
            everyone=await self._global_use(start) if owner else None,
        )

    async def _global_use(self, start: datetime) -> CounterUse:
        snap = await self._store.usage(LimitKind.GLOBAL, GLOBAL_KEY, start)
        found = await self._store.get_limits([(LimitKind.GLOBAL.value, GLOBAL_KEY)])
        return CounterUse(
            snap.used, found.get((LimitKind.GLOBAL.value, GLOBAL_KEY), self.policy.global_limit)
        )

    async def _set_limit(self, call: _Run, request: SetLimit) -> LimitChanged:
        limit = request.limit
        what = request.what
        if what is None:  # the target's own quota: a member here, a personal one in private
            what = LimitKind.MEMBER if call.caller.community is not None else LimitKind.USER
        key, default, target = await self._limit_scope(call, what, request.target)
        community = call.caller.community_key if what in COMMUNITY_KINDS else None
        entry = self._entry(call, "set_limit", community=community, target=target)
        label = target.name if target is not None else None
        previous = await self._store.set_limit(what, key, limit, entry, label=label)
        return LimitChanged(what, key, target, limit, previous, default)

    async def _limit_scope(
        self, call: _Run, what: LimitKind, target: Target | None
    ) -> tuple[str, int | None, Target | None]:
        """(key, default limit, target) of what ``/setlimit`` changes; checks permissions."""
        policy = self.policy
        if what is LimitKind.GLOBAL:
            call.need_owner()
            return GLOBAL_KEY, policy.global_limit, None
        if what is LimitKind.USER:
            call.need_owner()
            target = call.need_target(target)
            return user_scope_key(target.user), policy.user_limit, target
        community = call.need_community()
        key = community_scope_key(community)
        if what is LimitKind.COMMUNITY:
            return key, policy.community_limit, None
        if what is LimitKind.MEMBERS:
            return key, policy.user_limit, None
        target = call.need_target(target)
        found = await self._store.get_limits([(LimitKind.MEMBERS.value, key)])
        default = found.get((LimitKind.MEMBERS.value, key), policy.user_limit)
        return member_scope_key(community, target.user), default, target

    # -- credits, usage, blocks --------------------------------------------------------------

    async def _change_credits(self, call: _Run, request: ChangeCredits) -> CreditsChanged:
        if not 1 <= request.credits <= MAX_CREDITS:  # front ends check too; this one decides
            raise errors.BadCommand("out of range", command=request.name)
        target = call.need_target(request.target)
        scope = await self._own_scope(call, target)
        start = self.policy.period_start(self._clock())
        entry = self._entry(
            call,
            request.name,
            community=call.caller.community_key,
            target=target,
            credits=request.credits,
            scope=scope.kind,
        )
        change = -request.credits if request.taking else request.credits
        snap = await self._store.add_bonus(scope.kind, scope.key, start, change, entry)
        return CreditsChanged(target, OwnQuota(scope, snap), request.credits, request.taking)

    async def _reset(self, call: _Run, request: ResetUsage) -> UsageReset:
        start = self.policy.period_start(self._clock())
        if request.scope is ResetScope.OWN:
            target = call.need_target(request.target)
            scope = await self._own_scope(call, target)
            entry = self._entry(
                call, "reset_usage", community=call.caller.community_key, target=target, scope=scope.kind
            )
            snap = await self._store.reset_usage(scope.kind, scope.key, start, entry)
            return UsageReset(request.scope, LimitKind(scope.kind), scope.key, target, OwnQuota(scope, snap))
        if request.scope is ResetScope.COMMUNITY:
            kind, key = LimitKind.COMMUNITY, community_scope_key(call.need_community())
            community: str | None = key
        else:
            call.need_owner()
            kind, key, community = LimitKind.GLOBAL, GLOBAL_KEY, None
        entry = self._entry(call, "reset_usage", community=community, target=None, scope=kind)
        await self._store.reset_usage(kind, key, start, entry)
        return UsageReset(request.scope, kind, key)

    async def _block(self, call: _Run, request: SetBlock) -> BlockChanged | BlockRefused:
        target = call.need_target(request.target)
        everywhere = request.everywhere or call.caller.community is None
        if everywhere:
            call.need_owner()
        if request.blocking and target.user in self._owners and not call.caller.operator:
            return BlockRefused(target)
        scope = BlockScope.EVERYWHERE if everywhere else BlockScope.COMMUNITY
        community = None if everywhere else call.caller.community_key
        entry = self._entry(call, request.name, community=community, target=target, where=scope)
        where = community or EVERYWHERE
        user = target.user
        changed = await self._store.set_block(
            str(user.platform), user.user_id, where, request.blocking, entry
        )
        return BlockChanged(target, request.blocking, scope, where, changed)

    # -- stats -------------------------------------------------------------------------------

    async def _stats(self, call: _Run) -> Stats:
        now = self._clock()
        policy = self.policy
        days: list[date] = chart_days(policy, now)
        since = min(policy.day_start(days[0]), policy.period_start(now))
        community = call.caller.community
        activity = await self._store.job_activity(
            since=since,
            platform=str(community.platform) if community else None,
            community_id=community.id if community else None,
        )
        report = summarize(activity, policy, now, days=days, top=TOP_MEMBERS)
        pool = None
        if community is not None:
            key = community_scope_key(community)
            found = await self._store.get_limits([(LimitKind.COMMUNITY.value, key)])
            snap = await self._store.usage(LimitKind.COMMUNITY, key, report.period_start)
            pool = CounterUse(snap.used, found.get((LimitKind.COMMUNITY.value, key), policy.community_limit))
        owner = call.caller.role is Role.OWNER
        return Stats(report, tuple(days), pool, report.cost if owner else None)
