"""Discord admin commands do what they say: limits refuse edits, grants allow them again, blocks stop
a member (privately, charging nothing), resets clear usage, /audit lists who did what (over several
messages when long), /stats sends the top members and a PNG chart of edits per day.
"""

from __future__ import annotations

import pytest

from core.actions import Text
from core.storage.protocol import AuditEntry, community_scope_key
from tests.e2e.discord_admin_crew import Crew, admin_reply, hire_crew, said, server, used
from tests.e2e.discord_harness import DiscordHarness, decoded
from tests.fakes.discord_models import FakeUser
from tests.fakes.discord_server import FakeInteraction
from tests.fakes.edit_api import sample_png

TODAY_RED = (234, 67, 53)  # core.charts draws today's bar in this colour
EARLIER_BLUE = (66, 133, 244)  # ... and earlier days' bars in this one


@pytest.fixture
async def crew(dc: DiscordHarness) -> Crew:
    """The admin tests' people; the bot restarted with its owner configured."""
    return await hire_crew(dc)


async def edit_as(dc: DiscordHarness, user: FakeUser, prompt: str) -> FakeInteraction:
    """``/edit`` with a small photo by ``user``."""
    return await dc.edit(dc.photo(sample_png(40, 40)), prompt, user=user)


async def edited(dc: DiscordHarness, user: FakeUser, prompt: str) -> None:
    """``user`` edits a photo and gets the result."""
    await dc.result(await edit_as(dc, user, prompt))
    await dc.idle()


async def test_limits_grants_blocks_and_resets_take_effect(dc: DiscordHarness, crew: Crew) -> None:
    admin, bob = crew.admin, crew.bob
    await admin_reply(dc, "setlimit", {"scope": "members", "value": "1"}, user=admin)
    await edited(dc, bob, "one")
    hit = await edit_as(dc, bob, "two")
    refused = await dc.private_reply(hit)
    assert "(1/1 used)" in refused.content and refused.ephemeral and not hit.followups

    granted = await admin_reply(dc, "grant", {"amount": 2, "member": bob}, user=admin)
    assert "Gave Bob 2 extra credit(s) today — 2 left now." in granted.content
    await edited(dc, bob, "three")
    assert await used(dc, bob) == 2

    await admin_reply(dc, "block", {"member": bob}, user=admin)
    hit = await edit_as(dc, bob, "four")
    blocked = await dc.private_reply(hit)
    assert blocked.content == said("blocked") and blocked.ephemeral
    assert hit.original is not None and hit.original.ephemeral  # nothing public about it
    assert said("usage_blocked_community") in await dc.usage(bob)
    assert await used(dc, bob) == 2

    await admin_reply(dc, "unblock", {"member": bob}, user=admin)
    await edited(dc, bob, "five")
    assert await used(dc, bob) == 3
    reset = await admin_reply(dc, "resetusage", {"member": bob}, user=admin)
    assert "Reset Bob's usage for today — 3 left now." in reset.content
    assert await used(dc, bob) == 0
    assert [r.value("prompt") for r in dc.api.requests] == ["one", "three", "five"]

    audit = await admin_reply(dc, "audit", user=admin)
    header, *lines = audit.content.splitlines()
    assert header == "Latest 5 change(s):"
    assert [line.partition(" · ")[2] for line in lines] == [
        "boss reset Bob's usage",
        "boss unblocked Bob",
        "boss blocked Bob",
        "boss gave Bob 2 credit(s)",
        "boss set each member's limit to 1",
    ]


async def test_server_wide_limit_and_reset(dc: DiscordHarness, crew: Crew) -> None:
    await admin_reply(dc, "setlimit", {"scope": "community", "value": "1"}, user=crew.admin)
    await edited(dc, crew.bob, "one")
    refused = await dc.private_reply(await edit_as(dc, crew.carol, "two"))
    assert "(1/1)" in refused.content
    reset = await admin_reply(dc, "resetusage", {"scope": "global"}, user=crew.admin)
    assert reset.content == said("admin_owner_only", command="resetusage")
    reset = await admin_reply(dc, "resetusage", {"scope": "community"}, user=crew.admin)
    assert reset.content == said("usage_reset_community", period=Text("period_day"))
    await edited(dc, crew.carol, "three")
    limits = await admin_reply(dc, "limits", user=crew.admin)
    assert "the whole server: 1 credits — 1 used, 0 left" in limits.content


async def test_stats_sends_the_top_members_and_a_chart(dc: DiscordHarness, crew: Crew) -> None:
    await edited(dc, crew.bob, "one")
    await edited(dc, crew.bob, "two")
    await edited(dc, crew.carol, "three")
    public_before = len(dc.fake.messages_in())

    stats = await admin_reply(dc, "stats", user=crew.admin)
    assert "Today in this server: 3 edit(s), 3 credit(s) spent" in stats.content
    assert "1. bob — 2 credit(s), 2 edit(s)" in stats.content
    assert "2. carol — 1 credit(s), 1 edit(s)" in stats.content
    assert "(3 in all)" in stats.content  # the chart's caption
    assert "API cost" not in stats.content  # for bot owners only

    (chart,) = stats.files
    assert chart.content_type == "image/png" and chart.filename.endswith(".png")
    image = decoded(chart.data).convert("RGB")
    assert decoded(chart.data).format == "PNG" and image.size == (960, 480)
    width = image.width
    columns = {colour: set() for colour in (TODAY_RED, EARLIER_BLUE)}
    raw = image.tobytes()  # RGB, row by row
    for index, pixel in enumerate(zip(raw[0::3], raw[1::3], raw[2::3], strict=True)):
        if pixel in columns:
            columns[pixel].add(index % width)
    assert columns[TODAY_RED] and not columns[EARLIER_BLUE]  # one bar: today's, at the right end
    assert min(columns[TODAY_RED]) > width * 0.85
    assert len(dc.fake.messages_in()) == public_before  # nothing posted in the channel

    owner = await admin_reply(dc, "stats", user=crew.owner, hidden=True)
    assert "Estimated API cost" in owner.content and owner.files


async def test_a_long_audit_continues_in_more_private_messages(dc: DiscordHarness, crew: Crew) -> None:
    assert dc.core is not None
    key = community_scope_key(server(dc))
    name = "an-administrator-with-a-rather-long-name"
    for limit in range(1, 41):  # 40 changes written directly: what 40 /setlimit commands would leave
        entry = AuditEntry(actor="discord:1", action="set_limit", community=key, actor_name=name)
        await dc.core.store.set_limit("members", key, limit, entry)
    hit = await dc.fake.slash_command("audit", {"count": 50}, user=crew.admin)
    first = await dc.private_reply(hit)
    await hit.wait_for_followup(lambda m: m.content.endswith("set each member's limit to 1"))
    messages = [first, *hit.followups]
    lines = [line for m in messages for line in m.content.splitlines()]
    assert all(m.ephemeral and len(m.content) <= 2000 for m in messages) and len(messages) >= 2
    assert lines[0] == "Latest 40 change(s):" and len(lines) == 41
    assert lines[1].endswith(f"{name} set each member's limit to 40")
    assert lines[-1].endswith(f"{name} set each member's limit to 1")
