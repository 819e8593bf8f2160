"""Quota rules: which counters an edit draws on, what it costs, and when periods reset.

Periods start at local midnight in the configured time zone (day), on Monday (week) or on the
1st (month), and are stored as UTC instants so every process agrees on the counter row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.events import Origin
from core.store import QuotaScope, community_scope_key, user_scope_key


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """Limits and period, as configured."""

    user_limit: int
    community_limit: int
    period: str = "day"
    timezone: str = "UTC"

    def period_start(self, now: datetime) -> datetime:
        """The UTC start of the period containing ``now``."""
        local = now.astimezone(ZoneInfo(self.timezone))
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "week":
            start -= timedelta(days=start.weekday())
        elif self.period == "month":
            start = start.replace(day=1)
        # Rebuild from the wall-clock fields so a DST change inside the period does not shift midnight.
        start = datetime(start.year, start.month, start.day, tzinfo=ZoneInfo(self.timezone))
        return start.astimezone(UTC)

    def next_reset(self, now: datetime) -> datetime:
        """The UTC instant the current period ends."""
        local = self.period_start(now).astimezone(ZoneInfo(self.timezone))
        if self.period == "week":
            nxt = local.date() + timedelta(days=7)
        elif self.period == "month":
            nxt = (local.date().replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            nxt = local.date() + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def scopes(self, origin: Origin) -> tuple[QuotaScope, ...]:
        """Counters an edit from ``origin`` draws on.

        In a private chat: the user's personal quota. In a community: the member's quota there
        and the community's pool, reserved together or not at all.
        """
        if origin.community is None:
            return (QuotaScope("user", user_scope_key(origin.user), self.user_limit),)
        community = community_scope_key(origin.community)
        return (
            QuotaScope("member", f"{community}/{origin.user.user_id}", self.user_limit),
            QuotaScope("community", community, self.community_limit),
        )


def credits_for(n: int) -> int:
    """Credits one edit costs: one per result image."""
    return max(1, n)


def format_time(moment: datetime, timezone: str) -> str:
    """A reset time as users read it, in the configured zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} ({timezone})"
