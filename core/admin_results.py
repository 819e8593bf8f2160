"""What an admin command did: the typed results :meth:`core.admin.AdminService.run` returns.

Front ends word them: :mod:`core.admin_replies` as catalog messages in the reader's language,
``editbot quota`` as lines for operators. Results carry numbers, never wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.admin_commands import ResetScope, Target
from core.quotas.limits import BlockScope, LimitKind
from core.reports import PeriodReport
from core.storage.protocol import AuditEntry, LimitOverride, QuotaScope, UsageSnapshot


@dataclass(frozen=True, slots=True)
class CounterUse:
    """A counter's credits used this period, and its limit (None: counted, never refused)."""

    used: int
    limit: int | None

    @property
    def left(self) -> int:
        """What is left (0 when over; a counter without a limit has nothing to leave)."""
        return max(0, (self.limit or 0) - self.used)


@dataclass(frozen=True, slots=True)
class OwnQuota:
    """A member's own scope (member here, or personal) and its counter this period."""

    scope: QuotaScope
    usage: UsageSnapshot

    @property
    def limit(self) -> int:
        """The scope's limit (own scopes always have one)."""
        return self.scope.limit or 0

    @property
    def left(self) -> int:
        """What is left: the limit plus this period's extra credits, less what was used."""
        return max(0, self.limit + self.usage.bonus - self.usage.used)


@dataclass(frozen=True, slots=True)
class TargetLimits:
    """A member's own quota, its use and extra credits this period, and their block."""

    target: Target
    own: OwnQuota
    blocked: BlockScope | None
    in_community: bool


@dataclass(frozen=True, slots=True)
class DefaultLimits:
    """The settings' defaults and the bot-wide counter (``/limits`` in a private chat)."""

    user_limit: int
    community_limit: int
    reset: datetime
    everyone: CounterUse


@dataclass(frozen=True, slots=True)
class CommunityLimits:
    """A community's pool, its members' default, every override stored for it, and (for owners)
    the bot-wide counter."""

    key: str
    pool: CounterUse
    members_limit: int
    overrides: tuple[LimitOverride, ...]
    reset: datetime
    everyone: CounterUse | None

    @property
    def singles(self) -> tuple[LimitOverride, ...]:
        """The overrides of single members."""
        return tuple(o for o in self.overrides if o.kind == LimitKind.MEMBER)


@dataclass(frozen=True, slots=True)
class LimitChanged:
    """A limit set (``limit``) or back to its default (``limit`` None); ``previous`` None: was the default."""

    what: LimitKind
    key: str
    target: Target | None
    limit: int | None
    previous: int | None
    default: int | None  # None: no limit (the global cap unset)


@dataclass(frozen=True, slots=True)
class CreditsChanged:
    """Extra credits given (or taken) in the target's own scope; ``usage`` is the scope afterwards."""

    target: Target
    own: OwnQuota
    credits: int
    taking: bool


@dataclass(frozen=True, slots=True)
class UsageReset:
    """A counter set back to 0: the target's own (``own`` then says what they have left now), the
    community's pool or the bot-wide one (``key``)."""

    what: ResetScope
    kind: LimitKind
    key: str
    target: Target | None = None
    own: OwnQuota | None = None


@dataclass(frozen=True, slots=True)
class BlockChanged:
    """A block set or lifted (``changed`` False: it already was so); ``key`` is the stored ``where``."""

    target: Target
    blocking: bool
    where: BlockScope
    key: str
    changed: bool


@dataclass(frozen=True, slots=True)
class BlockRefused:
    """Bot owners cannot be blocked from a chat."""

    target: Target


@dataclass(frozen=True, slots=True)
class AuditPage:
    """The latest audit entries, newest first; ``everything``: of every community, not one."""

    entries: tuple[AuditEntry, ...]
    everything: bool


@dataclass(frozen=True, slots=True)
class Stats:
    """The period's report, the chart's days, the community's pool (None: bot-wide stats) and the
    API cost (None: not for this caller)."""

    report: PeriodReport
    days: tuple[date, ...]
    pool: CounterUse | None
    cost: float | None


AdminResult = (
    TargetLimits
    | DefaultLimits
    | CommunityLimits
    | LimitChanged
    | CreditsChanged
    | UsageReset
    | BlockChanged
    | BlockRefused
    | AuditPage
    | Stats
)
"""Everything an admin command can answer."""
