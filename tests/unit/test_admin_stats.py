"""/stats: the period's totals, the top members, and a chart of edits per day sent as a PNG."""

from __future__ import annotations

import asyncio
import io
from datetime import date, timedelta
from pathlib import Path

from PIL import Image

from core import i18n
from core.actions import SendChart, SendText
from core.charts import HEIGHT, WIDTH, draw_daily_chart, nice_ceiling, render_daily_chart
from core.events import AdminCommand, EditOptions, EditSubmitted, Role
from core.reports import daily_rows, summarize
from core.storage.protocol import JobActivity, JobStatus
from tests.unit.admin_matrix import new_world
from tests.unit.engine_world import World

BAR = (66, 133, 244)
TODAY = (234, 67, 53)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


async def _edits(w: World, user: str, count: int, *, n: int = 1, name: str | None = None) -> None:
    w.fetcher.files.setdefault("p1", w.image)
    for _ in range(count):
        origin = w.origin(user, community="g", user_name=name or user.title())
        await w.engine.handle(origin, EditSubmitted((w.ref("p1"),), "x", options=EditOptions(n=n)))
        await w.runner.wait_idle()


async def test_stats_reports_the_period_top_members_and_sends_a_chart() -> None:
    async with new_world(user_limit=50, period="week") as w:
        today = w.now  # Saturday 2026-11-21
        w.now = today - timedelta(days=3)  # Wednesday: this week
        await _edits(w, "a", 2)
        w.now = today - timedelta(days=6)  # Sunday, last week: in the chart, not in the totals
        await _edits(w, "c", 4)
        w.now = today
        await _edits(w, "b", 1, n=3, name="Bea")
        await _edits(w, "a", 1)
        w.editor.fail_with = RuntimeError("boom")  # type: ignore[assignment]
        await _edits(w, "a", 1)
        w.editor.fail_with = None

        admin = w.origin("adm", community="g", role=Role.ADMIN)
        actions = await w.engine.handle(admin, AdminCommand("stats"))
        text, chart = actions
        assert isinstance(text, SendText) and isinstance(chart, SendChart)
        lines = i18n.render("en", text.text).splitlines()
        assert lines == [
            "This week in this group: 4 edit(s), 6 credit(s) spent, 1 failed (not charged).",
            "Group quota: 6 of 100 credits used — 94 left.",
            "Top members:",
            "1. A — 3 credit(s), 3 edit(s)",
            "2. Bea — 3 credit(s), 1 edit(s)",
        ]
        assert chart.origin == admin
        assert i18n.render("en", chart.caption) == "Edits per day, 2026-11-15 to 2026-11-21 (8 in all)"
        image = chart.image
        assert image.content_type == "image/png" and image.filename.endswith(".png")
        picture = decode(image.data)
        assert picture.size == (WIDTH, HEIGHT) == (image.width, image.height)
        colours = picture.getcolors(maxcolors=100_000) or []
        assert len(colours) > 10  # bars, grid, anti-aliased labels: not a blank canvas
        pixels = {colour for _, colour in colours}
        assert BAR in pixels and TODAY in pixels  # past days' bars, and today's highlighted one


async def test_stats_in_chinese_and_an_owner_sees_the_cost_and_everything() -> None:
    async with new_world() as w:
        await _edits(w, "a", 1)
        await _edits(w, "b", 1)
        boss = w.origin("boss", locale="zh-CN")
        text, chart = await w.engine.handle(boss, AdminCommand("stats"))
        assert isinstance(text, SendText) and isinstance(chart, SendChart)
        rendered = i18n.render("zh-CN", text.text)
        assert rendered.startswith("全机器人本日：2 次修图") and "估计 API 费用：$" in rendered
        assert i18n.render(boss.locale, chart.caption).startswith("每日修图次数")


async def test_stats_with_no_edits() -> None:
    async with new_world() as w:
        text, chart = await w.engine.handle(
            w.origin("adm", community="g", role=Role.ADMIN), AdminCommand("stats")
        )
        assert isinstance(text, SendText) and isinstance(chart, SendChart)
        assert i18n.render("en", text.text).endswith("No edits yet today.")
        picture = decode(chart.image.data)
        assert picture.size == (WIDTH, HEIGHT)
        assert TODAY not in {c for _, c in picture.getcolors(maxcolors=100_000) or []}


def test_chart_scales_bars_to_the_tallest_day() -> None:
    start = date(2026, 1, 1)
    days = [(start + timedelta(days=i), count) for i, count in enumerate([0, 5, 10, 0, 2])]
    picture = decode(draw_daily_chart(days, width=500, height=300))
    assert picture.size == (500, 300)
    heights = []
    for i in range(5):  # measure each bar's height in its column
        x = int(64 + (500 - 24 - 64) / 5 * (i + 0.5))
        heights.append(sum(1 for y in range(300) if picture.getpixel((x, y)) == BAR))
    assert heights[0] == heights[3] == 0 and heights[2] > heights[1] > heights[4] > 0
    assert abs(heights[2] - 2 * heights[1]) <= 2  # 10 is twice 5, on the same axis


async def test_chart_renders_in_a_worker_thread_and_handles_many_days() -> None:
    import threading

    seen: list[str] = []
    import core.charts as charts

    original = charts.draw_daily_chart

    def spy(*args: object, **kw: object) -> bytes:
        seen.append(threading.current_thread().name)
        return original(*args, **kw)  # type: ignore[arg-type]

    charts.draw_daily_chart = spy  # type: ignore[assignment]
    try:
        days = [(date(2026, 1, 1) + timedelta(days=i), i * 37 % 101) for i in range(31)]
        png = await render_daily_chart(days)
    finally:
        charts.draw_daily_chart = original  # type: ignore[assignment]
    assert seen and seen[0] != threading.main_thread().name
    assert decode(png).size == (WIDTH, HEIGHT)


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 6, 11, 99, 101, 4000)] == [
        1,
        1,
        2,
        5,
        10,
        20,
        100,
        200,
        5000,
    ]


def test_summary_and_csv_rows_count_only_succeeded_work() -> None:
    from datetime import UTC, datetime

    from core.quotas.rules import QuotaPolicy

    policy = QuotaPolicy(1, 1, "day", "Asia/Shanghai")
    now = datetime(2026, 3, 2, 4, tzinfo=UTC)  # 12:00 in Shanghai

    def job(i: int, hours_ago: float, status: JobStatus, user: str = "u", credits: int = 1) -> JobActivity:
        at = now - timedelta(hours=hours_ago)
        return JobActivity(f"j{i}", "telegram", user, "g", status, credits, at, 30, 0.5, user.upper())

    activity = [
        job(1, 1, JobStatus.SUCCEEDED, "a", 2),
        job(2, 2, JobStatus.FAILED, "a"),
        job(3, 3, JobStatus.CANCELLED, "b"),
        job(4, 11, JobStatus.SUCCEEDED, "b"),  # 01:00 Shanghai: today
        job(5, 13, JobStatus.SUCCEEDED, "b"),  # 23:00 yesterday in Shanghai
        job(6, 0.5, JobStatus.RUNNING, "c"),
    ]
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    report = summarize(activity, policy, now, days=days)
    assert (report.edits, report.credits, report.failed, report.cost) == (2, 3, 1, 1.0)
    assert [(m.user_id, m.credits) for m in report.top] == [("a", 2), ("b", 1)]
    assert report.per_day == ((date(2026, 3, 1), 1), (date(2026, 3, 2), 2))

    rows = daily_rows(activity, policy)
    assert [(r["day"], r["user_id"], r["edits"], r["failed"], r["cancelled"]) for r in rows] == [
        ("2026-03-01", "b", 1, 0, 0),
        ("2026-03-02", "a", 1, 1, 0),
        ("2026-03-02", "b", 1, 0, 1),
    ]
    by_community = daily_rows(activity, policy, by="community")
    assert [(r["day"], r["community_id"], r["edits"], r["credits"]) for r in by_community] == [
        ("2026-03-01", "g", 1, 1),
        ("2026-03-02", "g", 2, 3),
    ]


async def test_the_console_saves_the_chart_and_prints_its_caption(tmp_path: Path) -> None:
    from adapters.console.frontend import ConsoleOutbox

    async with new_world() as w:
        _, chart = await w.engine.handle(w.origin("boss"), AdminCommand("stats"))
        assert isinstance(chart, SendChart)
        out = io.StringIO()
        assert await ConsoleOutbox(out, tmp_path, "en").send(chart) is None
        saved = tmp_path / chart.image.filename
        assert await asyncio.to_thread(saved.read_bytes) == chart.image.data
        assert out.getvalue() == f"Edits per day, 2026-11-08 to 2026-11-21 (0 in all): {saved} (960x480)\n"
