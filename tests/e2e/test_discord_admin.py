"""Discord admin commands: who may run each one, end to end through the real discord.py client.

For every admin command: Discord's client hides it from plain members (Manage Server is its default
permission); a member who invokes it anyway gets the polite refusal and nothing changes; in a DM
everyone but a bot owner is told to use it in the server; a member with Manage Server and a bot
owner (who has no server permission at all) both succeed, and each change is audited under their
name. Every answer is ephemeral.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from core.actions import Text
from tests.e2e.discord_admin_crew import (
    Crew,
    admin_reply,
    audit_size,
    hire_crew,
    said,
    snapshot,
)
from tests.e2e.discord_harness import DiscordHarness, decoded
from tests.fakes.discord_models import FakeUser
from tests.fakes.edit_api import sample_png

MANAGE_GUILD = str(1 << 5)


@pytest.fixture
async def crew(dc: DiscordHarness) -> Crew:
    """The admin tests' people; the bot restarted with its owner configured."""
    return await hire_crew(dc)


@dataclass(frozen=True)
class Case:
    """One admin command: its options for a target, and a piece of a successful answer about them."""

    name: str
    options: Callable[[FakeUser], dict[str, Any]]
    answer: Callable[[str], str]
    changes: bool

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("limits", lambda u: {"member": u}, lambda who: f"{who}: 10 credits per day", False),
    Case(
        "setlimit",
        lambda u: {"scope": "member", "value": "3", "member": u},
        lambda who: f"{who}'s limit is now 3",
        True,
    ),
    Case("grant", lambda u: {"amount": 2, "member": u}, lambda who: f"Gave {who} 2 extra credit(s)", True),
    Case("take", lambda u: {"amount": 1, "member": u}, lambda who: f"Took 1 credit(s) from {who}", True),
    Case("resetusage", lambda u: {"member": u}, lambda who: f"Reset {who}'s usage", True),
    Case(
        "block",
        lambda u: {"member": u},
        lambda who: said("user_blocked_community", target=who),
        True,
    ),
    Case(
        "unblock",
        lambda u: {"member": u},
        lambda who: said("user_unblocked_community", target=who),
        True,
    ),
    Case("audit", lambda u: {"count": 5}, lambda who: "", False),
    Case("stats", lambda u: {}, lambda who: said("stats_no_edits", period=Text("period_day")), False),
]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_permission_matrix(dc: DiscordHarness, crew: Crew, case: Case) -> None:
    if case.name == "unblock":  # something to unblock
        for who in (crew.bob, crew.carol):
            await admin_reply(dc, "block", {"member": who}, user=crew.admin)
    before = await snapshot(dc, crew.bob, crew.carol)

    with pytest.raises(PermissionError):  # not even offered to a plain member
        await dc.fake.slash_command(case.name, case.options(crew.bob), user=crew.member)
    refused = await admin_reply(dc, case.name, case.options(crew.bob), user=crew.member, hidden=True)
    assert refused.content == said("admin_not_allowed", command=case.name) and not refused.files
    for user in (crew.member, crew.admin):  # Manage Server means nothing outside the server
        dm = dc.fake.dm_channel(user)
        reply = await admin_reply(dc, case.name, case.options(crew.bob), user=user, channel=dm)
        assert reply.content == said("admin_use_in_community", command=case.name)
    assert await snapshot(dc, crew.bob, crew.carol) == before

    for actor, target, hidden in ((crew.admin, crew.bob, False), (crew.owner, crew.carol, True)):
        entries = await audit_size(dc)
        answer = await admin_reply(dc, case.name, case.options(target), user=actor, hidden=hidden)
        assert case.answer(target.global_name or target.username) in answer.content
        assert "Sorry" not in answer.content
        assert await audit_size(dc) == entries + case.changes
        if case.changes:
            assert dc.core is not None
            latest = (await dc.core.store.audit_log(limit=1))[0]
            assert (latest.actor, latest.actor_name) == (f"discord:{actor.id}", actor.username)
            assert latest.target == f"discord:{target.id}"
        if case.name == "stats":
            assert decoded(answer.files[0].data).size == (960, 480)


async def test_admin_commands_are_synced_for_managers_with_localized_descriptions(
    dc: DiscordHarness,
) -> None:
    for case in CASES:
        command = dc.fake.command(case.name)
        assert command is not None and command["default_member_permissions"] == MANAGE_GUILD
        assert command["contexts"] == [0, 1]  # owners use them in DMs too
        assert command["description_localizations"]["zh-CN"].endswith("（管理员）")
    setlimit = dc.fake.command("setlimit")
    assert setlimit is not None
    scope = next(o for o in setlimit["options"] if o["name"] == "scope")
    assert [c["value"] for c in scope["choices"]] == ["community", "members", "member", "user", "global"]
    assert scope["choices"][0]["name_localizations"]["zh-CN"] == "全服务器"
    grant = dc.fake.command("grant")
    assert grant is not None
    amount = next(o for o in grant["options"] if o["name"] == "amount")
    assert (amount["min_value"], amount["max_value"]) == (1, 1_000_000)


async def test_refusals_in_the_users_language(dc: DiscordHarness, crew: Crew) -> None:
    li = dc.fake.add_user("li", locale="zh-CN")
    reply = await admin_reply(dc, "grant", {"amount": 1, "member": crew.bob}, user=li, hidden=True)
    assert reply.content == said("admin_not_allowed", "zh-CN", command="grant")
    assert "管理服务器" in reply.content


async def test_owner_only_things_and_usage_hints(dc: DiscordHarness, crew: Crew) -> None:
    before = await snapshot(dc, crew.bob)
    cap = await admin_reply(dc, "setlimit", {"scope": "global", "value": "100"}, user=crew.admin)
    assert cap.content == said("admin_owner_only", command="setlimit")
    everywhere = {"member": crew.bob, "everywhere": True}
    assert (await admin_reply(dc, "block", everywhere, user=crew.admin)).content == said(
        "admin_owner_only", command="block"
    )
    nobody = await admin_reply(dc, "setlimit", {"scope": "member", "value": "3"}, user=crew.admin)
    assert nobody.content == said("admin_needs_target", usage=Text("admin_usage_setlimit"))
    assert "/setlimit scope:… value:N" in nobody.content  # Discord's options, not Telegram's replies
    garbled = await admin_reply(dc, "setlimit", {"scope": "members", "value": "lots"}, user=crew.admin)
    assert garbled.content == said("admin_bad_args", usage=Text("admin_usage_setlimit"))
    assert await snapshot(dc, crew.bob) == before


async def test_an_owner_in_a_dm_manages_the_whole_bot(dc: DiscordHarness, crew: Crew) -> None:
    dm = dc.fake.dm_channel(crew.owner)
    defaults = await admin_reply(dc, "limits", user=crew.owner, channel=dm)
    assert "10 credits per user, 200 per group or server" in defaults.content

    here_only = await admin_reply(
        dc, "setlimit", {"scope": "community", "value": "5"}, user=crew.owner, channel=dm
    )
    assert here_only.content == said("admin_use_in_community", command="setlimit")

    cap = await admin_reply(dc, "setlimit", {"scope": "global", "value": "100"}, user=crew.owner, channel=dm)
    assert "The bot-wide cap is now 100" in cap.content
    blocked = await admin_reply(dc, "block", {"member": crew.bob}, user=crew.owner, channel=dm)
    assert blocked.content == said("user_blocked_everywhere", target="Bob")

    usage = await dc.usage(crew.bob)  # /usage shows the cap and the block
    assert "All users together have used 0 of the bot's 100 credits" in usage
    assert said("usage_blocked_everywhere") in usage
    hit = await dc.edit(dc.photo(sample_png(32, 32)), "anything", user=crew.bob)
    refused = await dc.private_reply(hit)
    assert refused.content == said("blocked_everywhere") and refused.ephemeral and not hit.followups

    stats = await admin_reply(dc, "stats", user=crew.owner, channel=dm)
    assert "across the bot" in stats.content and stats.files
    audit = await admin_reply(dc, "audit", user=crew.owner, channel=dm)
    assert (
        "olga blocked Bob everywhere" in audit.content and "olga set the bot-wide cap to 100" in audit.content
    )
    assert dc.api.requests == []
