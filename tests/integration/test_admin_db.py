"""Admin commands on the real store (SQLite and PostgreSQL): the whole permission matrix, and a full flow."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import i18n
from core.actions import SendChart, SendError, SendText
from core.events import AdminCommand, EditSubmitted, Role
from core.identity import Platform, UserKey
from core.storage.sql_store import SqlStore
from tests.unit.admin_matrix import CASES, OWNER, PLACES, ROLES, new_world, run_case
from tests.unit.engine_world import World


def _world(sessionmaker: async_sessionmaker[AsyncSession], **kw: object) -> World:
    return new_world(store_factory=partial(SqlStore, sessionmaker), **kw)  # type: ignore[arg-type]


async def test_permission_matrix_on_the_database(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Every cell of the matrix, each with its own community and target so the cells stay independent."""
    async with _world(sessionmaker) as w:
        cell = 0
        for case in CASES:
            for role in ROLES:
                for place in PLACES:
                    cell += 1
                    target = UserKey(Platform.CONSOLE, f"t{cell}")
                    try:
                        await run_case(w, case, role, place, group=f"g{cell}", target=target)
                    except AssertionError as exc:
                        raise AssertionError(f"{case.id} as {role} in {place}: {exc}") from exc
        assert cell == len(CASES) * len(ROLES) * len(PLACES)


async def test_an_admin_session_end_to_end(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with _world(sessionmaker, user_limit=1, community_limit=10) as w:
        w.fetcher.add("p1", w.image)
        tina = UserKey(Platform.CONSOLE, "t1")
        admin = w.origin("adm", community="g", role=Role.ADMIN, user_name="Ada")

        def edit_by(user: str) -> EditSubmitted:
            return EditSubmitted((w.ref("p1"),), f"edit by {user}")

        assert (
            reply := await w.engine.handle(w.origin("t1", community="g", user_name="Tina"), edit_by("t1"))
        ).started and not reply.actions
        await w.runner.wait_idle()
        refused = await w.engine.handle(w.origin("t1", community="g"), edit_by("t1"))
        assert [a.kind for a in refused if isinstance(a, SendError)] == ["quota_exceeded"]

        await w.engine.handle(admin, AdminCommand("grant", "2", tina, "Tina"))
        assert (
            reply := await w.engine.handle(w.origin("t1", community="g"), edit_by("t1"))
        ).started and not reply.actions
        await w.runner.wait_idle()
        await w.engine.handle(admin, AdminCommand("block", "", tina, "Tina"))
        blocked = await w.engine.handle(w.origin("t1", community="g"), edit_by("t1"))
        assert [a.kind for a in blocked if isinstance(a, SendError)] == ["blocked"]
        await w.engine.handle(w.origin("boss"), AdminCommand("setlimit", "global 5"))

        text, chart = await w.engine.handle(admin, AdminCommand("stats"))
        assert isinstance(text, SendText) and isinstance(chart, SendChart)
        assert i18n.render("en", text.text).splitlines()[:2] == [
            "Today in this group: 2 edit(s), 2 credit(s) spent, 0 failed (not charged).",
            "Group quota: 2 of 10 credits used — 8 left.",
        ]
        assert chart.image.data.startswith(b"\x89PNG")

        (audit,) = await w.engine.handle(admin, AdminCommand("audit"))
        assert isinstance(audit, SendText)
        assert i18n.render("en", audit.text).splitlines() == [
            "Latest 2 change(s):",
            "2026-11-21 12:00 (UTC) · Ada blocked Tina",
            "2026-11-21 12:00 (UTC) · Ada gave Tina 2 credit(s)",
        ]
        (everything,) = await w.engine.handle(w.origin("boss"), AdminCommand("audit"))
        assert isinstance(everything, SendText)
        assert "console:boss set the bot-wide cap to 5" in i18n.render("en", everything.text)
        assert w.engine.admin.role_of(w.origin("boss")).value == "owner" and OWNER.user_id == "boss"
