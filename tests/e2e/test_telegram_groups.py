"""Telegram groups and albums: the bot acts only when addressed, and albums become one edit."""

from __future__ import annotations

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import mask_png, sample_png


def _group(tg: TelegramHarness):  # type: ignore[no-untyped-def]
    alice, bob = tg.fake.user(first_name="Alice"), tg.fake.user(first_name="Bob")
    return tg.fake.group("Photo club", alice, bob), alice, bob


async def test_ordinary_photos_are_ignored_addressed_ones_edited(tg: TelegramHarness) -> None:
    group, alice, bob = _group(tg)
    tg.fake.bot.privacy_mode = False  # the bot receives everything and must itself ignore the chatter
    tg.fake.send_photo(group, bob, sample_png(64, 64), caption="look at my cat")
    tg.fake.send_text(group, bob, "nice weather today")
    m = tg.fake.send_photo(group, alice, sample_png(64, 64), caption="/edit make it night")
    photo = await tg.photo(group)
    await tg.idle()
    assert photo.reply_to_message_id == m.message_id and photo.caption == "make it night"
    # Bob's updates were handled before Alice's (same order) and produced nothing; Alice's status
    # message became her result.
    assert [x.reply_to_message_id for x in tg.fake.messages_in(group) if not x.deleted] == [m.message_id]
    assert len(tg.api.requests) == 1


async def test_reply_to_a_photo_with_edit_or_mention(tg: TelegramHarness) -> None:
    group, alice, bob = _group(tg)
    pic = tg.fake.send_photo(group, bob, sample_png(64, 64))
    m = tg.fake.reply(group, alice, pic, "/edit add sunglasses")
    await tg.photo(group, after=m.message_id)
    await tg.idle()
    m2 = tg.fake.reply(group, bob, pic, f"@{tg.fake.bot.username} add a party hat")
    await tg.photo(group, after=m2.message_id)
    await tg.idle()
    assert [r.value("prompt") for r in tg.api.requests] == ["add sunglasses", "add a party hat"]


async def test_edit_command_alone_starts_a_conversation_continued_by_reply(tg: TelegramHarness) -> None:
    group, alice, _ = _group(tg)
    pic = tg.fake.send_photo(group, alice, sample_png(64, 64))
    m = tg.fake.reply(group, alice, pic, "/edit")
    ask = await tg.text(group, "Got your photo", after=m.message_id)
    tg.fake.send_text(group, alice, "unaddressed chatter")  # ignored in a group
    m = tg.fake.reply(group, alice, ask, "/skip")
    await tg.text(group, "No mask then", after=m.message_id)
    reply = tg.fake.reply(group, alice, ask, "make it sepia")
    await tg.photo(group, after=reply.message_id)
    await tg.idle()
    assert [r.value("prompt") for r in tg.api.requests] == ["make it sepia"]


async def test_group_edits_count_against_member_and_community(tg: TelegramHarness) -> None:
    await tg.restart(user_quota=1, community_quota=5)
    group, alice, _ = _group(tg)
    m = tg.fake.send_photo(group, alice, sample_png(64, 64), caption="/edit one")
    await tg.photo(group, after=m.message_id)
    await tg.idle()
    m = tg.fake.send_photo(group, alice, sample_png(64, 64), caption="/edit two")
    await tg.text(group, "You have no credits left", after=m.message_id)
    m = tg.fake.send_text(group, alice, "/usage")
    usage = await tg.text(group, "This community has used 1 of 5", after=m.message_id)
    assert usage.reply_to_message_id == m.message_id
    # Alice's private quota is separate from her quota in the group.
    private = tg.fake.private_chat(alice)
    m = tg.fake.send_photo(private, alice, sample_png(64, 64), caption="three")
    await tg.photo(private, after=m.message_id)
    await tg.idle()
    assert len(tg.api.requests) == 2


async def test_album_becomes_one_edit_with_several_images(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    parts = tg.fake.send_album(
        chat, user, [sample_png(64, 64, seed=s) for s in (1, 2, 3)], caption="blend these"
    )
    await tg.photo(chat, after=parts[-1].message_id)
    await tg.idle()
    (request,) = tg.api.requests
    assert len(request.images) == 3 and request.value("prompt") == "blend these"
    assert all(f.name == "image[]" for f in request.images)


async def test_album_with_single_image_model_uses_the_first(tg: TelegramHarness) -> None:
    tg.api.serve_retired = True  # a relay that still has dall-e-2
    await tg.restart(model="dall-e-2")
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    parts = tg.fake.send_album(chat, user, [sample_png(64, 64, seed=s) for s in (1, 2)])
    await tg.text(chat, "Got 2 photos", after=parts[-1].message_id)
    m = tg.fake.send_document(chat, user, mask_png(64, 64, (0, 0, 32, 32)), "mask.png", "image/png")
    await tg.text(chat, "Got the mask", after=m.message_id)
    m = tg.fake.send_text(chat, user, "make it pop")
    await tg.text(chat, "takes at most 1 image(s) at once, so I'll use the first 1", after=m.message_id)
    await tg.photo(chat, after=m.message_id)
    await tg.idle()
    (request,) = tg.api.requests
    assert len(request.images) == 1 and request.value("model") == "dall-e-2" and request.mask is not None
