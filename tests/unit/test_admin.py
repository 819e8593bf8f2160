"""What admin commands do: limits, grants, resets, blocks, the global cap, the audit trail, arguments."""

from __future__ import annotations

from typing import Any

import pytest

from core import i18n
from core.actions import Action, SendError, SendText, Text
from core.events import AdminCommand, Command, EditOptions, EditSubmitted, Origin, Role
from core.identity import Platform, UserKey
from core.storage.protocol import AuditEntry, JobStatus
from tests.unit.admin_matrix import OWNER, TARGET, new_world
from tests.unit.engine_world import World


def admin(w: World, community: str = "g") -> Origin:
    return w.origin("adm", community=community, role=Role.ADMIN, user_name="Ada")


def owner(w: World, community: str | None = None) -> Origin:
    return w.origin("boss", community=community, user_name="Boss")


def member(w: World, user: str = "t1", community: str | None = "g") -> Origin:
    return w.origin(user, community=community, user_name="Tina")


def cmd(name: str, args: str = "", target: UserKey | None = TARGET) -> AdminCommand:
    return AdminCommand(name, args, target, "Tina" if target else None)


def text_of(actions: list[Action], locale: str = "en") -> str:
    out = []
    for action in actions:
        if isinstance(action, SendText):
            out.append(i18n.render(locale, action.text))
        elif isinstance(action, SendError):
            out.append(i18n.render(locale, Text(action.kind, action.details)))
    return "\n".join(out)


async def edit(w: World, origin: Origin, n: int = 1) -> list[Action]:
    """One edit from ``origin``, run to the end; returns the immediate replies."""
    w.fetcher.files.setdefault("p1", w.image)
    actions = await w.engine.handle(origin, EditSubmitted((w.ref("p1"),), "x", options=EditOptions(n=n)))
    await w.runner.wait_idle()
    return list(actions)


def errors_of(actions: list[Action]) -> list[str]:
    return [a.kind for a in actions if isinstance(a, SendError)]


async def usage_params(w: World, origin: Origin) -> list[tuple[str, dict[str, Any]]]:
    return [(t.key, t.params) for t in await w.engine.usage(origin)]


async def test_member_limit_and_members_default_apply_to_edits() -> None:
    async with new_world(user_limit=10) as w:
        await w.engine.handle(admin(w), cmd("setlimit", "members 2", None))
        await w.engine.handle(admin(w), cmd("setlimit", "member 1"))
        assert await edit(w, member(w)) == []
        assert errors_of(await edit(w, member(w))) == ["quota_exceeded"]  # Tina: her own limit, 1
        assert await edit(w, member(w, "u2")) == [] and await edit(w, member(w, "u2")) == []
        assert errors_of(await edit(w, member(w, "u2"))) == ["quota_exceeded"]  # everyone else: 2
        # Elsewhere and in private the settings' default still applies.
        assert [p["limit"] for _, p in await usage_params(w, member(w, community=None))] == [10]
        assert [p["limit"] for _, p in await usage_params(w, member(w, community="h"))] == [10, 100]


async def test_community_pool_limit_and_off() -> None:
    async with new_world(community_limit=100) as w:
        reply = await w.engine.handle(admin(w), cmd("setlimit", "community 1", None))
        assert "now 1 credits per day (was the default, 100)" in text_of(reply)
        assert await edit(w, member(w)) == []
        assert errors_of(await edit(w, member(w, "u2"))) == ["community_quota_exceeded"]
        reply = await w.engine.handle(admin(w), cmd("setlimit", "community off", None))
        assert "back to the default: 100 per day" in text_of(reply)
        assert await edit(w, member(w, "u2")) == []


async def test_grant_take_and_reset() -> None:
    async with new_world(user_limit=1) as w:
        assert await edit(w, member(w)) == []
        assert errors_of(await edit(w, member(w))) == ["quota_exceeded"]
        reply = await w.engine.handle(admin(w), cmd("grant", "2"))
        assert "Gave Tina 2 extra credit(s) today — 2 left now." in text_of(reply)
        assert await edit(w, member(w), n=2) == []
        ((_, mine), _) = await usage_params(w, member(w))
        assert (mine["used"], mine["limit"], mine["left"]) == (3, 3, 0)

        reply = await w.engine.handle(admin(w), cmd("take", "2"))
        assert "Took 2 credit(s) from Tina today — 0 left now." in text_of(reply)
        reply = await w.engine.handle(admin(w), cmd("resetusage"))
        assert "Reset Tina's usage for today — 1 left now." in text_of(reply)  # 1 + 2 - 2
        assert await edit(w, member(w)) == []
        assert errors_of(await edit(w, member(w))) == ["quota_exceeded"]
        # The community's pool was not reset: only Tina's own counter.
        (_, pool) = await usage_params(w, member(w))
        assert pool[1]["used"] == 4


async def test_reset_does_not_go_negative_when_in_flight_edits_are_refunded() -> None:
    import asyncio

    from core import errors

    async with new_world(user_limit=5) as w:
        w.fetcher.add("p1", w.image)
        w.editor.gate = asyncio.Event()
        w.editor.fail_with = errors.ServerError()
        await w.engine.handle(member(w), EditSubmitted((w.ref("p1"),), "x", options=EditOptions(n=3)))
        await w.editor.started.wait()
        await w.engine.handle(admin(w), cmd("resetusage"))
        w.editor.gate.set()
        await w.runner.wait_idle()
        ((_, mine), _) = await usage_params(w, member(w))
        assert mine["used"] == 0 and mine["left"] == 5


async def test_blocks_here_and_everywhere() -> None:
    async with new_world() as w:
        reply = await w.engine.handle(admin(w), cmd("block"))
        assert text_of(reply) == "Tina can no longer edit photos in this group."
        assert errors_of(await edit(w, member(w))) == ["blocked"]
        assert await edit(w, member(w, community=None)) == []  # private chats are not the group's
        assert await edit(w, member(w, community="h")) == []  # nor are other groups
        assert (await usage_params(w, member(w)))[-1][0] == "usage_blocked_community"
        again = await w.engine.handle(admin(w), cmd("block"))
        assert text_of(again) == "Tina was already blocked."

        await w.engine.handle(owner(w), cmd("block"))  # an owner in private: everywhere
        assert errors_of(await edit(w, member(w, community=None))) == ["blocked_everywhere"]
        assert errors_of(await edit(w, member(w, community="h"))) == ["blocked_everywhere"]

        await w.engine.handle(owner(w, "g"), cmd("unblock", "everywhere"))
        await w.engine.handle(admin(w), cmd("unblock"))
        assert await edit(w, member(w)) == []
        assert text_of(await w.engine.handle(admin(w), cmd("unblock"))) == "Tina wasn't blocked."
        assert [e.action for e in w.store.audit] == ["block", "block", "unblock", "unblock"]


async def test_owners_cannot_be_blocked() -> None:
    async with new_world() as w:
        actions = await w.engine.handle(admin(w), AdminCommand("block", "", OWNER, "Boss"))
        assert text_of(actions) == "Boss is one of the bot's owners and can't be blocked."
        assert w.store.blocks == {} and w.store.audit == []


async def test_global_cap_counts_every_chat_and_shows_in_usage() -> None:
    async with new_world(user_limit=10) as w:
        assert await edit(w, member(w, "a", community=None)) == []  # counted before any cap is set
        reply = await w.engine.handle(owner(w), cmd("setlimit", "global 3", None))
        assert "The bot-wide cap is now 3 credits per day (was unlimited)" not in text_of(reply)
        assert "The bot-wide cap is now 3 credits per day (was the default, unlimited)." in text_of(reply)
        assert await edit(w, member(w, "b")) == []
        assert await edit(w, member(w, "c", community="h")) == []
        actions = await edit(w, member(w, "d", community=None))
        (error,) = [a for a in actions if isinstance(a, SendError)]
        assert error.kind == "global_quota_exceeded" and error.details["used"] == 3
        assert "The bot has used all the edits it may make for everyone (3/3)" in text_of(actions)
        keys = [key for key, _ in await usage_params(w, member(w, "d", community=None))]
        assert keys == ["usage", "usage_global"]


async def test_personal_limits_grants_and_resets_from_a_private_chat() -> None:
    async with new_world(user_limit=1) as w:
        private = member(w, community=None)
        await w.engine.handle(owner(w), cmd("setlimit", "2"))  # "user" inferred from the target
        await w.engine.handle(owner(w), cmd("grant", "1"))
        ((key, mine),) = await usage_params(w, private)
        assert key == "usage" and mine["limit"] == 3
        assert await edit(w, private, n=3) == []
        await w.engine.handle(owner(w), cmd("resetusage"))
        ((_, mine),) = await usage_params(w, private)
        assert mine["used"] == 0
        # The member quota in a group is another counter, untouched by personal settings.
        assert (await usage_params(w, member(w)))[0][1]["limit"] == 1


async def test_every_change_is_audited_with_who_what_where_when() -> None:
    async with new_world() as w:
        w.now = w.now.replace(hour=9, minute=30)
        await w.engine.handle(admin(w), cmd("setlimit", "community 50", None))
        await w.engine.handle(admin(w), cmd("setlimit", "member 3"))
        await w.engine.handle(admin(w), cmd("grant", "4"))
        await w.engine.handle(admin(w), cmd("take", "1"))
        await w.engine.handle(admin(w), cmd("resetusage"))
        await w.engine.handle(admin(w), cmd("block"))
        await w.engine.handle(admin(w), cmd("unblock"))
        await w.engine.handle(owner(w), cmd("setlimit", "global 9", None))
        entries = w.store.audit
        assert [(e.action, e.community) for e in entries] == [
            ("set_limit", "console:g"),
            ("set_limit", "console:g"),
            ("grant", "console:g"),
            ("take", "console:g"),
            ("reset_usage", "console:g"),
            ("block", "console:g"),
            ("unblock", "console:g"),
            ("set_limit", None),
        ]
        assert {e.actor for e in entries[:-1]} == {"console:adm"} and entries[-1].actor == "console:boss"
        assert entries[1].target == "console:t1" and entries[1].target_name == "Tina"
        assert entries[0].target is None and entries[0].details["previous"] is None
        assert entries[1].details == {"kind": "member", "limit": 3, "previous": None}
        assert entries[2].details == {"credits": 4, "scope": "member"}
        assert all(e.at == w.now for e in entries)

        listing = text_of(await w.engine.handle(admin(w), cmd("audit", "3", None)))
        assert listing.splitlines() == [
            "Latest 3 change(s):",
            "2026-11-21 09:30 (UTC) · Ada unblocked Tina",
            "2026-11-21 09:30 (UTC) · Ada blocked Tina",
            "2026-11-21 09:30 (UTC) · Ada reset Tina's usage",
        ]
        # The global change is not in the group's log, but an owner in private sees everything.
        assert "bot-wide cap" not in text_of(await w.engine.handle(admin(w), cmd("audit", "50", None)))
        everything = text_of(await w.engine.handle(owner(w), cmd("audit", "50", None)))
        assert "Boss set the bot-wide cap to 9" in everything
        assert "[console:g] 2026-11-21 09:30 (UTC) · Ada gave Tina 4 credit(s)" in everything


async def test_audit_of_another_group_is_not_shown() -> None:
    async with new_world() as w:
        await w.engine.handle(admin(w, "g"), cmd("grant", "1"))
        reply = await w.engine.handle(admin(w, "h"), cmd("audit", "", None))
        assert text_of(reply) == "No admin changes recorded yet."


@pytest.mark.parametrize(
    ("name", "args", "target", "kind"),
    [
        ("setlimit", "lots", True, "admin_bad_args"),
        ("setlimit", "community", False, "admin_bad_args"),
        ("setlimit", "community -1", False, "admin_bad_args"),
        ("setlimit", "community 99999999", False, "admin_bad_args"),
        ("setlimit", "5", False, "admin_bad_args"),  # what to limit? no target to infer it from
        ("setlimit", "member 5", False, "admin_needs_target"),
        ("grant", "2", False, "admin_needs_target"),
        ("grant", "0", True, "admin_bad_args"),
        ("grant", "two", True, "admin_bad_args"),
        ("take", "", True, "admin_bad_args"),
        ("resetusage", "", False, "admin_needs_target"),
        ("resetusage", "everyone", False, "admin_bad_args"),
        ("block", "", False, "admin_needs_target"),
        ("block", "forever", True, "admin_bad_args"),
        ("audit", "many", False, "admin_bad_args"),
        ("grant", "2 discord:55", False, "admin_bad_args"),  # a target on another platform
    ],
)
async def test_bad_arguments_explain_the_usage_privately(
    name: str, args: str, target: bool, kind: str
) -> None:
    async with new_world() as w:
        actions = await w.engine.handle(admin(w), cmd(name, args, TARGET if target else None))
        (error,) = actions
        assert isinstance(error, SendError) and error.kind == kind and error.private
        assert error.details["usage"] == Text(f"admin_usage_{name}")
        assert "Usage: /" in text_of(actions) and "用法" in text_of(actions, "zh-CN")
        assert w.store.audit == [] and w.store.limits == {}


async def test_plain_commands_reach_the_admin_service_with_a_written_target() -> None:
    async with new_world() as w:
        reply = await w.engine.handle(admin(w), Command("grant", "3 console:t1"))
        assert text_of(reply) == "Gave t1 3 extra credit(s) today — 13 left now."
        assert w.store.audit[0].target == "console:t1"
        refused = await w.engine.handle(member(w, "u2"), Command("GRANT", "3 console:t1"))
        assert errors_of(refused) == ["admin_not_allowed"]
        assert text_of(refused) == "Sorry, only this group's admins can use /grant."


async def test_an_adapter_cannot_make_anyone_an_owner() -> None:
    async with new_world() as w:
        fake_owner = w.origin("mallory", community="g", role=Role.OWNER)
        assert w.engine.admin.role_of(fake_owner) is Role.ADMIN
        actions = await w.engine.handle(fake_owner, cmd("setlimit", "global 1", None))
        assert errors_of(actions) == ["admin_owner_only"]
        in_private = w.origin("mallory", role=Role.ADMIN)
        assert errors_of(await w.engine.handle(in_private, cmd("limits"))) == ["admin_use_in_community"]


async def test_owners_are_recognised_by_platform_and_id() -> None:
    async with new_world() as w:
        assert w.engine.admin.role_of(w.origin("boss")) is Role.OWNER
        impostor = Origin(UserKey(Platform.TELEGRAM, "boss"), w.origin().chat, "e1")
        assert w.engine.admin.role_of(impostor) is Role.MEMBER


async def test_unknown_admin_command() -> None:
    async with World() as w:
        actions = await w.engine.handle(admin(w), AdminCommand("frobnicate"))
        assert [a.text.key for a in actions if isinstance(a, SendText)] == ["unknown_command"]


async def test_limits_show_overrides_and_a_members_view() -> None:
    async with new_world() as w:
        for i in range(17):
            await w.engine.handle(
                admin(w), AdminCommand("setlimit", "member 2", UserKey(Platform.CONSOLE, f"m{i}"))
            )
        await w.engine.handle(admin(w), cmd("grant", "2"))
        await w.engine.handle(admin(w), cmd("block"))
        shown = text_of(await w.engine.handle(admin(w), cmd("limits", "", None)))
        assert "• the whole group: 100 credits — 0 used, 100 left" in shown
        assert shown.count(": 2 credits") == 15 and "… and 2 more members" in shown
        assert "Across the bot" not in shown  # only owners see the bot-wide line
        view = text_of(await w.engine.handle(admin(w), cmd("limits")))
        assert view.splitlines() == [
            "Tina: 10 credits per day (+2 granted this period) — 0 used, 12 left.",
            "Tina is blocked in this group.",
        ]


async def test_job_rows_are_audit_free_and_succeed() -> None:
    """Admin commands never touch jobs; a granted edit runs like any other."""
    async with new_world(user_limit=0) as w:
        await w.engine.handle(admin(w), cmd("grant", "1"))
        assert await edit(w, member(w)) == []
        (job,) = w.store.jobs.values()
        assert job.status is JobStatus.SUCCEEDED
        assert all(isinstance(e, AuditEntry) for e in w.store.audit)


@pytest.mark.parametrize("state", ["idle", "awaiting_mask_or_prompt", "awaiting_prompt", "confirm_retry"])
@pytest.mark.parametrize("name", ["limits", "grant", "stats", "block", "frobnicate"])
async def test_admin_commands_leave_the_conversation_where_it_was(name: str, state: str) -> None:
    from core.engine import conversation_key
    from core.storage.protocol import Conversation, ConvState

    async with new_world() as w:
        origin = admin(w)
        key = conversation_key(origin)
        if state != "idle":
            w.store.conversations[key] = Conversation(
                key, ConvState(state), (w.ref("p1"),), data={"job_id": "j"}, updated_at=w.now
            )
        await w.engine.handle(admin(w), cmd(name, "1" if name == "grant" else ""))
        conv = await w.store.get_conversation(key)
        assert (conv.state.value if conv else "idle") == state


async def test_resetusage_community_ignores_a_target_from_a_reply() -> None:
    async with new_world(community_limit=2) as w:
        assert await edit(w, member(w)) == [] and await edit(w, member(w, "u2")) == []
        assert errors_of(await edit(w, member(w, "u3"))) == ["community_quota_exceeded"]
        reply = await w.engine.handle(admin(w), cmd("resetusage", "community"))  # sent as a reply to Tina
        assert text_of(reply) == "Reset this group's usage for today."
        (entry,) = w.store.audit
        assert entry.target is None and entry.details == {"scope": "community"}
        assert await edit(w, member(w, "u3")) == []
        ((_, tina), _) = await usage_params(w, member(w))
        assert tina["used"] == 1  # members' own counters are untouched


def test_written_targets() -> None:
    from core import errors
    from core.admin_commands import ChangeCredits, SetBlock, Target, parse

    tina = Target(UserKey(Platform.TELEGRAM, "55"))
    grant = ChangeCredits(2, tina)
    assert parse("grant", "2 TELEGRAM:55", Platform.TELEGRAM) == grant
    assert parse("grant", "telegram:55 2", Platform.TELEGRAM) == grant
    assert parse("block", "telegram:55 Everywhere", Platform.TELEGRAM) == SetBlock(tina, everywhere=True)
    # Discord names members in options (never as <@id> text): a mention is just a word the core refuses.
    with pytest.raises(errors.BadCommand):
        parse("grant", "2 <@123>", Platform.DISCORD)
    for bad in ("telegram:1 telegram:2", "discord:1", "telegram:"):
        with pytest.raises(errors.BadCommand):
            parse("grant", f"2 {bad}", Platform.TELEGRAM)


def test_every_front_end_makes_the_same_command() -> None:
    """Chat words, Discord's options and the CLI's arguments all become one typed command."""
    from adapters.discord_bot.admin_commands import admin_command
    from bots.cli import build_parser
    from bots.commands.quota import _request
    from core.admin_commands import ChangeCredits, ResetScope, ResetUsage, SetLimit, Target, parse
    from core.quotas.limits import LimitKind

    tina = Target(UserKey(Platform.TELEGRAM, "55"))
    cli = build_parser()
    for words, argv, want in [
        ("grant 2", ["grant", "2", "--user", "telegram:55"], ChangeCredits(2, tina)),
        ("take 3", ["take", "3", "--user", "telegram:55"], ChangeCredits(3, tina, taking=True)),
        (
            "setlimit member 4",
            ["set", "member", "4", "--user", "telegram:55"],
            SetLimit(LimitKind.MEMBER, "4", tina),
        ),
        ("resetusage", ["reset", "--user", "telegram:55"], ResetUsage(ResetScope.OWN, tina)),
    ]:
        name, _, args = words.partition(" ")
        assert parse(name, args, Platform.TELEGRAM, tina) == want
        assert _request(cli.parse_args(["quota", *argv])) == want
        assert admin_command(want).request == want and admin_command(want).name == name


async def test_the_operator_runs_the_same_commands_and_may_block_an_owner() -> None:
    from core.admin import Caller
    from core.admin_commands import SetBlock, Target
    from core.admin_results import BlockChanged, BlockRefused
    from core.quotas.limits import BlockScope

    async with new_world() as w:
        boss = Target(OWNER, "Boss")
        refused = await w.engine.admin.run(Caller("console:boss", Role.OWNER, None), SetBlock(boss))
        assert refused == BlockRefused(boss) and w.store.audit == []
        operator = Caller("operator", Role.OWNER, None, "operator (ops)", operator=True)
        done = await w.engine.admin.run(operator, SetBlock(boss))
        assert done == BlockChanged(boss, True, BlockScope.EVERYWHERE, "*", True)
        (entry,) = w.store.audit
        assert (entry.actor, entry.actor_name, entry.action, entry.target) == (
            "operator",
            "operator (ops)",
            "block",
            "console:boss",
        )
