"""Quota periods in the configured time zone: day, week and month, across DST changes and rollovers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.actions import SendError
from core.events import ImageReceived
from core.quotas.rules import QuotaPolicy
from core.reports import chart_days
from tests.unit.engine_world import World


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "period", "now", "start", "end"),
    [
        # Asia/Shanghai is UTC+8 all year: local midnight is 16:00 UTC the day before.
        ("Asia/Shanghai", "day", utc(2026, 3, 1, 15, 59, 59), utc(2026, 2, 28, 16), utc(2026, 3, 1, 16)),
        ("Asia/Shanghai", "day", utc(2026, 3, 1, 16, 0, 0), utc(2026, 3, 1, 16), utc(2026, 3, 2, 16)),
        # Sunday 23:59 local is still last week; Monday 00:00 local starts a new one.
        ("Asia/Shanghai", "week", utc(2026, 3, 1, 15, 59), utc(2026, 2, 22, 16), utc(2026, 3, 1, 16)),
        ("Asia/Shanghai", "week", utc(2026, 3, 1, 16, 0), utc(2026, 3, 1, 16), utc(2026, 3, 8, 16)),
        ("Asia/Shanghai", "month", utc(2026, 1, 31, 15, 59), utc(2025, 12, 31, 16), utc(2026, 1, 31, 16)),
        ("Asia/Shanghai", "month", utc(2026, 1, 31, 16, 30), utc(2026, 1, 31, 16), utc(2026, 2, 28, 16)),
        ("Asia/Shanghai", "month", utc(2026, 12, 31, 17), utc(2026, 12, 31, 16), utc(2027, 1, 31, 16)),
        # America/New_York springs forward on 2026-03-08 (a 23-hour day) ...
        ("America/New_York", "day", utc(2026, 3, 8, 17), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        # ... and falls back on 2026-11-01 (a 25-hour day).
        ("America/New_York", "day", utc(2026, 11, 1, 12), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
        ("America/New_York", "day", utc(2026, 11, 2, 4, 59), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
        ("America/New_York", "week", utc(2026, 3, 8, 17), utc(2026, 3, 2, 5), utc(2026, 3, 9, 4)),
        ("America/New_York", "week", utc(2026, 11, 1, 12), utc(2026, 10, 26, 4), utc(2026, 11, 2, 5)),
        ("America/New_York", "month", utc(2026, 3, 15), utc(2026, 3, 1, 5), utc(2026, 4, 1, 4)),
        ("America/New_York", "month", utc(2026, 11, 15), utc(2026, 11, 1, 4), utc(2026, 12, 1, 5)),
        # America/Santiago skips local midnight on 2025-09-07: the day starts at 01:00 (04:00 UTC).
        ("America/Santiago", "day", utc(2025, 9, 7, 16), utc(2025, 9, 7, 4), utc(2025, 9, 8, 3)),
        ("America/Santiago", "day", utc(2025, 9, 6, 16), utc(2025, 9, 6, 4), utc(2025, 9, 7, 4)),
        ("UTC", "day", utc(2026, 1, 1), utc(2026, 1, 1), utc(2026, 1, 2)),
    ],
)
def test_period_bounds(zone: str, period: str, now: datetime, start: datetime, end: datetime) -> None:
    policy = QuotaPolicy(10, 100, period, zone)
    assert policy.period_start(now) == start
    assert policy.next_reset(now) == end
    assert policy.period_start(end) == end  # the next period starts where this one ends
    assert policy.period_start(end - timedelta(microseconds=1)) == start


ZONES = st.sampled_from(
    ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago"]
)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(zone=ZONES, period=st.sampled_from(["day", "week", "month"]), now=INSTANTS)
def test_every_instant_lies_in_exactly_one_period(zone: str, period: str, now: datetime) -> None:
    policy = QuotaPolicy(1, 1, period, zone)
    start, end = policy.period_start(now), policy.next_reset(now)
    assert start <= now < end
    assert policy.period_start(start) == start and policy.period_start(end) == end
    local = start.astimezone(policy.zone)
    assert local.hour <= 1 and local.minute in (0, 30)  # midnight, or the first instant after a DST gap
    if period == "week":
        assert local.weekday() == 0
    if period == "month":
        assert local.day == 1
    assert timedelta(hours=22) <= end - start <= timedelta(days=31, hours=2)


def test_unknown_period_or_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        QuotaPolicy(1, 1, "fortnight")
    with pytest.raises(Exception, match="Mars"):
        QuotaPolicy(1, 1, "day", "Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("period", "now", "first", "count"),
    [
        ("day", utc(2026, 3, 20, 12), "2026-03-07", 14),
        ("week", utc(2026, 3, 18, 12), "2026-03-12", 7),  # Wednesday: still a full week of bars
        ("month", utc(2026, 3, 3, 12), "2026-02-25", 7),
        ("month", utc(2026, 3, 20, 12), "2026-03-01", 20),
    ],
)
def test_chart_days(period: str, now: datetime, first: str, count: int) -> None:
    days = chart_days(QuotaPolicy(1, 1, period, "UTC"), now)
    assert len(days) == count and days[0].isoformat() == first and days[-1] == now.date()


async def test_quota_rolls_over_at_local_midnight_in_shanghai() -> None:
    async with World(user_limit=1, timezone="Asia/Shanghai") as w:
        w.fetcher.add("p1", w.image)
        w.now = utc(2026, 11, 21, 15, 30)  # 23:30 in Shanghai
        assert (
            reply := await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        ).started and not reply.actions
        await w.runner.wait_idle()
        refused = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "two"))
        (error,) = [a for a in refused if isinstance(a, SendError)]
        assert error.kind == "quota_exceeded"
        assert error.details["reset"] == "2026-11-22 00:00 (Asia/Shanghai)"

        w.now = utc(2026, 11, 21, 16, 0, 1)  # 00:00:01 the next day in Shanghai, still the 21st in UTC
        assert (
            reply := await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "three"))
        ).started and not reply.actions
        await w.runner.wait_idle()
        (usage,) = await w.engine.usage(w.origin())
        assert (usage.params["used"], usage.params["left"]) == (1, 0)
        assert usage.params["reset"] == "2026-11-23 00:00 (Asia/Shanghai)"


async def test_weekly_quota_rolls_over_on_monday_across_the_dst_change() -> None:
    async with World(user_limit=1, period="week", timezone="America/New_York") as w:
        w.fetcher.add("p1", w.image)
        w.now = utc(2026, 11, 2, 4, 59)  # Sunday 23:59 EST (the 25-hour day just ended... almost)
        await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "one"))
        await w.runner.wait_idle()
        refused = await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "two"))
        assert [a.kind for a in refused if isinstance(a, SendError)] == ["quota_exceeded"]
        w.now = utc(2026, 11, 2, 5, 0)  # Monday 00:00 EST
        assert (
            reply := await w.engine.handle(w.origin(), ImageReceived((w.ref("p1"),), "three"))
        ).started and not reply.actions
        await w.runner.wait_idle()
        assert len(w.editor.requests) == 2
