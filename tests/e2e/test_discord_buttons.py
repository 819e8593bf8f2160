"""Discord: the buttons under results keep working after a restart and after the interaction token expired."""

from __future__ import annotations

import time

import aiohttp
import pytest

from adapters.discord_bot.translate import ORIGINAL
from adapters.discord_bot.webhooks import TOKEN_USABLE, Reply
from tests.e2e.discord_harness import DiscordHarness, decoded, history, picture
from tests.fakes.discord_models import FakeMessage
from tests.fakes.edit_api import expected_edit, same_pixels, sample_png

EDIT_AGAIN, RETRY, YES = "✏️ Edit again", "🔁 Retry", "Yes, retry"


async def _first_result(dc: DiscordHarness, prompt: str = "invert it") -> FakeMessage:
    hit = await dc.edit(dc.photo(sample_png(72, 48)), prompt)
    result = await dc.result(hit)
    await dc.idle()
    return result


async def test_edit_again_after_a_restart_edits_the_result(dc: DiscordHarness) -> None:
    result = await _first_result(dc)
    await dc.restart()

    press = await dc.fake.button_press(result, result.button(label=EDIT_AGAIN)["custom_id"])
    await press.wait_for_response()
    assert press.response_type == 9 and press.modal is not None
    assert press.modal["title"] == "Edit the result again"
    submitted = await press.submit_modal({"prompt": "now make it grey"})
    second = await dc.result(submitted)
    await dc.idle()

    first, again = dc.api.requests
    assert again.value("prompt") == "now make it grey" and second.content == "now make it grey"
    # The second edit's input is the first result, fetched from where the bot posted it.
    assert same_pixels(
        decoded(again.images[0].data), expected_edit(first.images[0].data, None, first.value("size"))
    )
    assert same_pixels(picture(second), expected_edit(again.images[0].data, None, again.value("size")))
    assert dc.fake.requests_to("GET", f"/attachments/*/{result.files[0].id}/*")
    assert second.id != result.id and not second.ephemeral and second.buttons


async def test_retry_asks_privately_then_posts_the_new_result_once(dc: DiscordHarness) -> None:
    result = await _first_result(dc, "add stars")
    await dc.restart()

    press = await dc.fake.button_press(result, result.button(label=RETRY)["custom_id"])
    confirm = await dc.private_reply(press)
    assert "uses 1 credit(s). Go ahead?" in confirm.content and confirm.button(label=YES)

    yes = await dc.fake.button_press(confirm, confirm.button(label=YES)["custom_id"])
    retried = await yes.wait_for_followup(lambda m: m.files, timeout=20)
    await dc.idle()
    assert yes.response_type == 7  # the confirmation was updated in place: its button is gone
    assert not retried.ephemeral and retried.content == "add stars" and retried.buttons
    with pytest.raises(LookupError):
        await dc.fake.button_press(confirm, confirm.custom_ids[0] if confirm.custom_ids else "editbot:x")
    assert [r.value("prompt") for r in dc.api.requests] == ["add stars", "add stars"]
    assert "🔁 Retrying — the result will appear in the channel." in history(confirm)
    assert confirm.content == "✅ Done." and not confirm.buttons
    assert "2 of 10" in await dc.usage()


async def test_result_after_the_token_expired_goes_to_the_channel_mentioning_the_user(
    dc: DiscordHarness,
) -> None:
    dc.api.latency = 1.0
    hit = await dc.edit(dc.photo(sample_png(64, 40)), "slow one")
    await hit.wait_for_original(lambda m: "Preparing" in m.content or "Editing" in m.content)
    dc.fake.expire_token(hit)  # as if 15 minutes had passed
    alice = dc.fake.default_user

    late = await dc.fake.wait_for_message(lambda m: bool(m.files), timeout=20)
    await dc.idle()
    (request,) = dc.api.requests
    assert late.id != hit.original.id and late.webhook_id is None  # type: ignore[union-attr]
    assert late.mentions == [alice.id] and late.content.startswith(alice.mention)
    allowed = late.allowed_mentions or {}
    assert allowed["parse"] == [] and [int(u) for u in allowed["users"]] == [alice.id]  # nobody else
    assert same_pixels(picture(late), expected_edit(request.images[0].data, None, request.value("size")))
    assert [r.status for r in dc.fake.requests_to("PATCH", "/webhooks/*/messages/@original")][-1] == 401

    # Its buttons work like any other result's.
    dc.api.latency = 0.0
    press = await dc.fake.button_press(late, late.button(label=EDIT_AGAIN)["custom_id"])
    second = await dc.result(await (await press.wait_for_response()).submit_modal({"prompt": "again"}))
    await dc.idle()
    again = dc.api.requests[1]
    assert same_pixels(picture(second), expected_edit(again.images[0].data, None, again.value("size")))


async def test_an_error_after_the_token_expired_goes_to_the_channel(dc: DiscordHarness) -> None:
    await dc.restart(api_timeout=1.0)
    dc.api.hang_next()  # the failure comes a second after the call, well after the token expired
    hit = await dc.edit(dc.photo(sample_png(64, 40)), "doomed")
    await hit.wait_for_original(lambda m: not m.loading)
    dc.fake.expire_token(hit)
    notice = await dc.fake.wait_for_message(lambda m: "took too long" in m.content, timeout=20)
    await dc.idle()
    assert notice.mentions == [dc.fake.default_user.id] and not notice.files
    assert "0 of 10" in await dc.usage()


async def test_a_deleted_response_is_replaced_by_a_channel_message(dc: DiscordHarness) -> None:
    dc.api.latency = 1.0
    hit = await dc.edit(dc.photo(sample_png(64, 40)), "where did it go")
    original = await hit.wait_for_original(lambda m: not m.loading)
    async with aiohttp.ClientSession() as session:  # e.g. a moderator removed the bot's response
        url = f"{dc.fake.api_url}/webhooks/{dc.fake.application_id}/{hit.token}/messages/@original"
        async with session.delete(url) as response:
            assert response.status == 204
    late = await dc.fake.wait_for_message(lambda m: bool(m.files), timeout=20)
    await dc.idle()
    assert original.deleted and late.mentions == [dc.fake.default_user.id]


def test_tokens_are_not_used_when_about_to_expire() -> None:
    now = time.time()
    fresh = Reply(1, "token", now - 60, 2, 3, 1024, ORIGINAL)
    old = Reply(1, "token", now - TOKEN_USABLE - 1, 2, 3, 1024, ORIGINAL)
    assert not fresh.stale(now) and old.stale(now)
