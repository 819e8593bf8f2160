"""Discord: every failure a user can cause or suffer gets a short reply in their language and costs nothing.

Refusals before a job starts are private (the public "thinking…" placeholder is removed); a job that
fails says so where its progress was.
"""

from __future__ import annotations

from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.discord_server import FakeInteraction
from tests.fakes.edit_api import sample_png

MODERATION = {
    "error": {
        "message": "Your request was rejected by the safety system.",
        "type": "image_generation_user_error",
        "code": "moderation_blocked",
    }
}


def _answered_privately(hit: FakeInteraction) -> bool:
    """A refused edit: nothing was ever shown in the channel, only the user saw the reason."""
    history = hit.original.history if hit.original is not None else []
    return hit.original is not None and hit.original.ephemeral and all(h["flags"] & 64 for h in history)


async def test_too_large_attachment_is_refused_from_metadata_without_downloading(dc: DiscordHarness) -> None:
    photo = dc.photo(sample_png(64, 64), "huge.png")
    photo["size"] = 30 * 2**20  # what Discord says about the upload
    hit = await dc.edit(photo, "edit it")
    reply = await dc.private_reply(hit)
    assert "too large (30 MB)" in reply.content and "under 20 MB" in reply.content
    assert _answered_privately(hit) and reply.ephemeral
    assert dc.fake.requests_to("GET", "/ephemeral-attachments/*") == [] and dc.api.requests == []
    assert "0 of 10" in await dc.usage()


async def test_non_image_and_unreadable_image(dc: DiscordHarness) -> None:
    pdf = dc.photo(b"%PDF-1.4 not a picture", "doc.pdf", "application/pdf")
    reply = await dc.private_reply(await dc.edit(pdf, "edit it"))
    assert "not a picture I can edit" in reply.content

    broken = dc.photo(sample_png(64, 64)[:60], "broken.png", "image/png")
    hit = await dc.edit(broken, "edit it")
    failed = await hit.wait_for_original(lambda m: "couldn't read that image" in m.content, timeout=20)
    await dc.idle()
    assert not failed.files and not failed.buttons and dc.api.requests == []
    assert "0 of 10" in await dc.usage()


async def test_moderation_refusal_in_simplified_chinese(dc: DiscordHarness) -> None:
    li = dc.fake.add_user("li", locale="zh-CN")
    dc.api.fail_next(400, MODERATION)
    hit = await dc.edit(dc.photo(sample_png(64, 64)), "something bad", user=li)
    refused = await hit.wait_for_original(lambda m: "安全系统拒绝" in m.content, timeout=20)
    await dc.idle()
    assert "未扣次数" in refused.content and not refused.files
    assert "已用 0/10" in await dc.usage(li)


async def test_no_edits_left_for_the_user_or_the_server(dc: DiscordHarness) -> None:
    await dc.restart(user_quota=1, community_quota=2)
    alice, bob, carol = dc.fake.default_user, dc.fake.add_user("bob"), dc.fake.add_user("carol")
    await dc.result(await dc.edit(dc.photo(sample_png(64, 64)), "one", user=alice))
    await dc.idle()
    reply = await dc.private_reply(await dc.edit(dc.photo(sample_png(64, 64)), "two", user=alice))
    assert "no credits left (1/1 used)" in reply.content and "resets" in reply.content

    await dc.result(await dc.edit(dc.photo(sample_png(64, 64)), "three", user=bob))
    await dc.idle()
    reply = await dc.private_reply(await dc.edit(dc.photo(sample_png(64, 64)), "four", user=carol))
    assert "This community has used all its credits (2/2)" in reply.content
    assert [r.value("prompt") for r in dc.api.requests] == ["one", "three"]


async def test_api_failures_and_timeouts(dc: DiscordHarness) -> None:
    await dc.restart(api_timeout=1.0)
    dc.api.fail_next(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
    hit = await dc.edit(dc.photo(sample_png(64, 64)), "one")
    failed = await hit.wait_for_original(lambda m: "internal error" in m.content, timeout=20)
    assert "upstream" not in failed.content
    await dc.idle()

    dc.api.hang_next()
    hit = await dc.edit(dc.photo(sample_png(64, 64)), "two")
    await hit.wait_for_original(lambda m: "took too long" in m.content, timeout=30)
    await dc.idle()
    assert "0 of 10" in await dc.usage()


async def test_prompt_too_long_and_one_edit_at_a_time(dc: DiscordHarness) -> None:
    dc.api.serve_retired = True  # a relay that still has dall-e-2
    await dc.restart(model="dall-e-2")
    reply = await dc.private_reply(await dc.edit(dc.photo(sample_png(64, 64)), "x" * 1200))
    assert "too long (1200 characters). dall-e-2 accepts at most 1000" in reply.content

    dc.api.latency = 1.0
    first = await dc.edit(dc.photo(sample_png(64, 64)), "slow")
    await first.wait_for_original(lambda m: not m.loading)  # its job is running
    busy = await dc.private_reply(await dc.edit(dc.photo(sample_png(64, 64)), "impatient"))
    assert "already have an edit in progress" in busy.content
    await dc.result(first)
    await dc.idle()
    assert [r.value("prompt") for r in dc.api.requests] == ["slow"]


async def test_notices_that_come_with_a_started_edit_are_private(dc: DiscordHarness) -> None:
    dc.api.serve_retired = True  # a relay that still has dall-e-2
    await dc.restart(model="dall-e-2")
    photo, other = dc.photo(sample_png(64, 64)), dc.photo(sample_png(64, 64, seed=3))
    hit = await dc.edit(photo, "one only", image2=other)
    notice = await hit.wait_for_followup(lambda m: "at most 1 image(s)" in m.content)
    result = await dc.result(hit)
    await dc.idle()
    assert notice.ephemeral and notice.id != result.id and not result.ephemeral
    (request,) = dc.api.requests
    assert len(request.images) == 1


async def test_an_interaction_acknowledged_too_late_is_dropped_quietly(dc: DiscordHarness) -> None:
    dc.fake.initial_response_deadline = 0.0  # every acknowledgement now arrives "after 3 seconds"
    hit = await dc.fake.slash_command("edit", {"image": dc.photo(sample_png(32, 32)), "prompt": "late"})
    await dc.fake.wait_for(
        lambda: dc.fake.requests_to("POST", f"/interactions/{hit.id}/*"), what="the bot's late answer"
    )
    dc.fake.initial_response_deadline = 3.0
    assert not hit.acknowledged and dc.api.requests == []
    assert "0 of 10" in await dc.usage()
