"""Discord: a result's buttons act only for the user who asked, in the channel the edit belongs to.

Everyone else (another member, the owner in another channel, a forged id) gets the same private
notice; no modal opens, no confirmation is offered, nothing is posted for others to see.
"""

from __future__ import annotations

from tests.e2e.discord_harness import DiscordHarness
from tests.fakes.discord_models import FakeMessage
from tests.fakes.edit_api import sample_png

EDIT_AGAIN, RETRY = "✏️ Edit again", "🔁 Retry"
NOT_YOURS = "Only the person who asked for this edit can use its buttons."


async def test_only_the_owner_in_its_channel_can_press(dc: DiscordHarness) -> None:
    alice = dc.fake.default_user
    bob = dc.fake.add_user("bob")
    dc.fake.default_guild.add_member(bob)
    hit = await dc.edit(dc.photo(sample_png(64, 48)), "add stars")
    result = await dc.result(hit)
    other_hit = await dc.edit(dc.photo(sample_png(64, 48)), "in my DM", channel=dc.fake.dm_channel(alice))
    elsewhere: FakeMessage = await dc.result(other_hit)
    await dc.idle()
    retry = result.button(label=RETRY)["custom_id"]
    again = result.button(label=EDIT_AGAIN)["custom_id"]

    for label in (RETRY, EDIT_AGAIN):  # another member of the server
        press = await dc.fake.button_press(result, result.button(label=label)["custom_id"], user=bob)
        reply = await dc.private_reply(press)
        assert reply.content == NOT_YOURS and press.modal is None and not reply.buttons
    # The owner's job pressed from another channel: Discord (and discord.py) accept only the
    # custom ids a message shows, so a forged one is dropped before it reaches the bot.
    own = elsewhere.button(label=RETRY)["custom_id"]
    forged = [await dc.fake.button_press(elsewhere, own, user=alice, forge=f) for f in (retry, again)]

    # The owner, where the edit happened: the modal, and the private confirmation.
    press = await dc.fake.button_press(result, again, user=alice)
    await press.wait_for_response()
    assert press.modal is not None
    press = await dc.fake.button_press(result, retry, user=alice)
    assert "Go ahead?" in (await dc.private_reply(press)).content
    await dc.idle()
    assert [p.response_type for p in forged] == [None, None] and len(dc.api.requests) == 2
