"""Reports from job activity: a period's totals, the top members, edits per day, CSV rows.

Only succeeded jobs count as edits and spent credits (failed and cancelled ones were refunded);
days are calendar days in the quota time zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from core.quotas.rules import QuotaPolicy
from core.storage.protocol import JobActivity, JobStatus

CHART_MIN_DAYS = 7
CHART_MAX_DAYS = 31
DAY_PERIOD_CHART_DAYS = 14


@dataclass(frozen=True, slots=True)
class MemberUse:
    """One member's succeeded edits and credits in a report."""

    platform: str
    user_id: str
    name: str | None
    edits: int
    credits: int


@dataclass(slots=True)
class _Tally:
    """One member's running totals while a report is summed up."""

    name: str | None = None
    edits: int = 0
    credits: int = 0


class RowsBy(StrEnum):
    """What one CSV row of :func:`daily_rows` counts, per day (``editbot quota export --by``)."""

    USER = "user"  # a member in a community, or a user in private chats
    COMMUNITY = "community"  # a community, or all private chats of a platform together


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """Totals of one period (since ``period_start``) and edits per day over the chart's days."""

    period_start: datetime
    edits: int
    credits: int
    failed: int
    cost: float
    top: tuple[MemberUse, ...]
    per_day: tuple[tuple[date, int], ...]


def chart_days(policy: QuotaPolicy, now: datetime) -> list[date]:
    """The days a /stats chart shows, oldest first, ending today.

    The current period's days so far, at least a week (a day period shows two weeks) and at
    most a month, so the chart always has enough bars to read a trend from.
    """
    today = policy.local_date(now)
    if policy.period == "day":
        count = DAY_PERIOD_CHART_DAYS
    else:
        so_far = (today - policy.local_date(policy.period_start(now))).days + 1
        count = min(CHART_MAX_DAYS, max(CHART_MIN_DAYS, so_far))
    return [today - timedelta(days=i) for i in range(count - 1, -1, -1)]


def summarize(
    activity: Iterable[JobActivity],
    policy: QuotaPolicy,
    now: datetime,
    *,
    days: Sequence[date],
    top: int = 5,
) -> PeriodReport:
    """The current period's totals and top members, and succeeded edits on each of ``days``."""
    start = policy.period_start(now)
    per_day: Counter[date] = Counter()
    edits = credits = failed = 0
    cost = 0.0
    members: dict[tuple[str, str], _Tally] = {}
    for job in activity:
        if job.status is JobStatus.SUCCEEDED:
            per_day[policy.local_date(job.created_at)] += 1
        if job.created_at < start:
            continue
        if job.status is JobStatus.FAILED:
            failed += 1
        if job.status is not JobStatus.SUCCEEDED:
            continue
        edits += 1
        credits += job.credits
        cost += job.estimated_cost or 0.0
        tally = members.setdefault((job.platform, job.user_id), _Tally())
        tally.name = job.user_name or tally.name
        tally.edits += 1
        tally.credits += job.credits
    ranked = sorted(members.items(), key=lambda item: (-item[1].credits, -item[1].edits, item[0]))
    return PeriodReport(
        period_start=start,
        edits=edits,
        credits=credits,
        failed=failed,
        cost=round(cost, 4),
        top=tuple(MemberUse(p, u, t.name, t.edits, t.credits) for (p, u), t in ranked[:top]),
        per_day=tuple((day, per_day.get(day, 0)) for day in days),
    )


CSV_FIELDS = (
    "day",
    "platform",
    "community_id",
    "user_id",
    "user_name",
    "edits",
    "credits",
    "failed",
    "cancelled",
    "usage_tokens",
    "estimated_cost_usd",
)
"""Columns of ``editbot quota export`` (``--by community`` leaves user_id and user_name empty)."""


def daily_rows(
    activity: Iterable[JobActivity], policy: QuotaPolicy, *, by: RowsBy = RowsBy.USER
) -> list[dict[str, Any]]:
    """Per local day and per member (``RowsBy.USER``) or per community (``RowsBy.COMMUNITY``).

    Private chats appear with an empty ``community_id``. Rows are sorted by day, then scope.
    """
    by = RowsBy(by)  # a plain "user" or "community" is welcome; anything else is a ValueError
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"edits": 0, "credits": 0, "failed": 0, "cancelled": 0, "tokens": 0, "cost": 0.0, "name": ""}
    )
    for job in activity:
        if not job.status.finished:
            continue
        user = job.user_id if by is RowsBy.USER else ""
        key = (policy.local_date(job.created_at).isoformat(), job.platform, job.community_id or "", user)
        row = groups[key]
        if by is RowsBy.USER and job.user_name:
            row["name"] = job.user_name
        if job.status is JobStatus.SUCCEEDED:
            row["edits"] += 1
            row["credits"] += job.credits
            row["tokens"] += job.usage_tokens or 0
            row["cost"] += job.estimated_cost or 0.0
        elif job.status is JobStatus.FAILED:
            row["failed"] += 1
        else:
            row["cancelled"] += 1
    return [
        {
            "day": day,
            "platform": platform,
            "community_id": community,
            "user_id": user,
            "user_name": row["name"],
            "edits": row["edits"],
            "credits": row["credits"],
            "failed": row["failed"],
            "cancelled": row["cancelled"],
            "usage_tokens": row["tokens"],
            "estimated_cost_usd": f"{row['cost']:.6f}",
        }
        for (day, platform, community, user), row in sorted(groups.items())
    ]
