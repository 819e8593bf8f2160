"""Discord: command sync, /help and /usage, direct messages, other bots, the queue and the upload limit."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from adapters.discord_bot import handlers
from tests.e2e.discord_harness import DiscordHarness, history, picture
from tests.fakes.discord_interactions import CHANNEL_MESSAGE
from tests.fakes.edit_api import expected_edit, same_pixels, sample_png


async def test_commands_are_synced_globally_and_to_the_development_server(dc: DiscordHarness) -> None:
    guild = dc.fake.default_guild
    await dc.restart(discord_dev_guild=guild.id)
    names = {
        scope: sorted(c["name"] for c in commands) for scope, commands in dc.fake.commands_synced.items()
    }
    everyone = ["Edit image", "edit", "help", "usage"]
    admins = ["audit", "block", "grant", "limits", "resetusage", "setlimit", "stats", "take", "unblock"]
    assert names == {None: sorted(everyone + admins), guild.id: sorted(everyone + admins)}
    edit = dc.fake.command("edit")
    assert edit is not None and edit["contexts"] == [0, 1]
    options = {o["name"]: o for o in edit["options"]}
    assert [o["type"] for o in edit["options"]][:6] == [11, 3, 11, 11, 11, 11]  # attachments and the prompt
    assert options["image"]["required"] and not options["mask"].get("required")
    assert [c["value"] for c in options["n"]["choices"]] == [1, 2, 3, 4]
    assert "1536x1024" in [c["value"] for c in options["size"]["choices"]]
    assert edit["description_localizations"]["zh-CN"].startswith("编辑照片")
    menu = dc.fake.command("Edit image", type=3)
    assert menu is not None and menu["name_localizations"]["zh-CN"] == "编辑图片"


async def test_help_and_usage_answer_privately_in_the_users_language(dc: DiscordHarness) -> None:
    hit = await dc.fake.slash_command("help")
    reply = await dc.private_reply(hit)
    assert "right-click a message with an image" in reply.content and hit.original is reply

    li = dc.fake.add_user("li", locale="zh-CN")
    usage = await dc.usage(li)
    assert "已用 0/10" in usage and "本社区" in usage


async def test_a_quick_answer_is_the_response_itself_and_a_slow_one_follows_a_thinking(
    dc: DiscordHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    hit = await dc.fake.slash_command("usage")
    reply = await dc.private_reply(hit)
    assert hit.response_type == CHANNEL_MESSAGE and reply.ephemeral and "0 of 10" in reply.content
    token = hit.token
    assert [r.method for r in dc.fake.requests if token in r.path] == ["POST"]  # one call, no edit
    assert reply.history == []

    # The answer is not ready in time (a busy database): "thinking…" first, then the answer in it.
    monkeypatch.setattr(handlers, "ANSWER_WITHIN", 0.0)
    hit = await dc.fake.slash_command("help")
    reply = await dc.private_reply(hit)
    assert hit.deferred and reply.ephemeral and "right-click a message with an image" in reply.content
    assert [r.method for r in dc.fake.requests if hit.token in r.path] == ["POST", "PATCH"]


async def test_direct_messages_work_without_a_community(dc: DiscordHarness) -> None:
    bob = dc.fake.add_user("bob")
    dm = dc.fake.dm_channel(bob)
    hit = await dc.edit(dc.photo(sample_png(40, 40)), "in private", user=bob, channel=dm)
    result = await dc.result(hit)
    await dc.idle()
    assert result in dc.fake.messages_in(dm) and hit.payload["context"] == 1
    assert same_pixels(
        picture(result),
        expected_edit(dc.api.requests[0].images[0].data, None, dc.api.requests[0].value("size")),
    )
    usage = await dc.usage(bob, dm)
    assert "1 of 10" in usage and "community" not in usage


async def test_other_bots_are_ignored(dc: DiscordHarness) -> None:
    robot = dc.fake.add_user("robot", bot=True)
    ignored = await dc.fake.slash_command(
        "edit", {"image": dc.photo(sample_png(32, 32)), "prompt": "x"}, user=robot
    )
    answered = await dc.fake.slash_command("help")  # dispatched after the bot's, answered once it was seen
    await dc.private_reply(answered)
    await dc.idle()
    assert not ignored.acknowledged and dc.api.requests == []


async def test_queue_position_shows_while_waiting(dc: DiscordHarness) -> None:
    await dc.restart(api_concurrency=1)
    dc.api.latency = 0.5
    bob = dc.fake.add_user("bob")
    first = await dc.edit(dc.photo(sample_png(40, 40)), "first")
    await first.wait_for_original(lambda m: "Editing" in m.content)
    second = await dc.edit(dc.photo(sample_png(40, 40)), "second", user=bob)
    result = await dc.result(second)
    await dc.idle()
    assert any("Waiting in line — position 1" in s for s in history(result))


def _smooth_png(side: int) -> bytes:
    """A photo-like picture: smooth gradients with a little grain (which keeps PNG from compressing it)."""
    ramp = Image.linear_gradient("L").resize((side, side))
    grain = Image.effect_noise((side, side), 6)
    bands = (ramp, ramp.rotate(90), ramp.rotate(180))
    image = Image.merge("RGB", [Image.blend(band, grain, 0.1) for band in bands])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def test_results_are_shrunk_to_the_interactions_upload_limit(dc: DiscordHarness) -> None:
    dc.fake.attachment_size_limit = 20_000
    hit = await dc.edit(dc.photo(_smooth_png(256)), "big", size="1024x1024")
    result = await dc.result(hit)
    await dc.idle()
    (request,) = dc.api.requests
    sent = result.files[0]
    assert hit.payload["attachment_size_limit"] == 20_000 and len(sent.data) <= 20_000
    assert sent.content_type == "image/jpeg" and sent.filename.endswith(".jpg")
    got = Image.open(io.BytesIO(sent.data)).convert("RGB")
    want = expected_edit(request.images[0].data, None, "1024x1024").resize(got.size)
    assert max(ImageStat.Stat(ImageChops.difference(got, want)).mean) < 6  # the same picture, smaller
