"""Quota rules: the configured default limits, which counters an edit draws on, and when periods reset.

Periods start at local midnight in the configured time zone (day), on Monday (week) or on the
1st (month), and are stored as UTC instants so every process agrees on the counter row. A period
always starts at the first instant of its local day, also where a DST change skips midnight.

Limits configured here are defaults: :mod:`core.quotas.limits` applies what admins stored in the
database on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.events import Origin
from core.storage.protocol import QuotaScope, community_scope_key, member_scope_key, user_scope_key

PERIODS = ("day", "week", "month")
"""Values of ``QuotaPolicy.period`` (EDITBOT_QUOTA_PERIOD)."""


class LimitKind(StrEnum):
    """What a stored limit override applies to (``quota_limits.scope_kind``)."""

    USER = "user"  # key: user_scope_key — one user's personal quota (private chats)
    MEMBER = "member"  # key: member_scope_key — one member in one community
    MEMBERS = "members"  # key: community_scope_key — the default for every member of a community
    COMMUNITY = "community"  # key: community_scope_key — the community's pool
    GLOBAL = "global"  # key: GLOBAL_KEY — all edits of the bot together


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """Default limits and the period, as configured (EDITBOT_USER_QUOTA, ..._COMMUNITY_QUOTA, ...).

    ``global_limit`` (EDITBOT_GLOBAL_QUOTA) caps all edits of the bot together; None: no cap.
    """

    user_limit: int
    community_limit: int
    period: str = "day"
    timezone: str = "UTC"
    global_limit: int | None = None

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"quota period must be one of {PERIODS}, not {self.period!r}")
        ZoneInfo(self.timezone)  # fail early on an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def period_start(self, now: datetime) -> datetime:
        """The UTC start of the period containing ``now``."""
        day = self.local_date(now)
        if self.period == "week":
            day -= timedelta(days=day.weekday())
        elif self.period == "month":
            day = day.replace(day=1)
        return self._midnight(day)

    def next_reset(self, now: datetime) -> datetime:
        """The UTC instant the current period ends (the next period's start)."""
        day = self.local_date(self.period_start(now))
        if self.period == "week":
            nxt = day + timedelta(days=7)
        elif self.period == "month":
            nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            nxt = day + timedelta(days=1)
        return self._midnight(nxt)

    def local_date(self, moment: datetime) -> date:
        """The calendar day ``moment`` falls on in the configured zone."""
        return moment.astimezone(self.zone).date()

    def day_start(self, day: date) -> datetime:
        """The UTC instant local ``day`` begins."""
        return self._midnight(day)

    def _midnight(self, day: date) -> datetime:
        # Built from the wall-clock fields, so a DST change inside the period does not shift
        # midnight. Where DST skips midnight, fold=0 resolves 00:00 with the offset before the
        # jump, which lands on the first instant that exists on that day.
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)

    def scopes(self, origin: Origin) -> tuple[QuotaScope, ...]:
        """Counters an edit from ``origin`` draws on, with the default limits.

        In a private chat: the user's personal quota. In a community: the member's quota there
        and the community's pool, reserved together or not at all. (:class:`core.quotas.limits.LimitResolver`
        adds the global counter and the limits stored in the database.)
        """
        if origin.community is None:
            return (QuotaScope(LimitKind.USER, user_scope_key(origin.user), self.user_limit),)
        return (
            QuotaScope(LimitKind.MEMBER, member_scope_key(origin.community, origin.user), self.user_limit),
            QuotaScope(LimitKind.COMMUNITY, community_scope_key(origin.community), self.community_limit),
        )


def format_time(moment: datetime, timezone: str) -> str:
    """A reset time as users read it, in the configured zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} ({timezone})"
