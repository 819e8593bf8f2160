"""Telegram: a result's buttons act only for the user who asked, in the chat the edit belongs to.

Everyone else (another group member, the owner in another chat, a forged id from another chat)
gets the same short alert on the press itself, and nothing happens in any chat.
"""

from __future__ import annotations

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png
from tests.fakes.telegram_model import CallbackQueryHandle, ChatMessage, FakeChat

NOT_YOURS = "Only the person who asked for this edit can use its buttons."


async def _answered(tg: TelegramHarness, press: CallbackQueryHandle) -> CallbackQueryHandle:
    await tg.fake.wait_for(lambda: press.answered, 20)
    return press


def _data(message: ChatMessage, label: str) -> str:
    return next(b.callback_data for row in message.buttons for b in row if b.text == label) or ""


async def test_only_the_owner_in_its_chat_can_press(tg: TelegramHarness) -> None:
    alice, bob, carol = tg.fake.user(first_name="Alice"), tg.fake.user(), tg.fake.user()
    group = tg.fake.group("Photo club", alice, bob)
    other_group = tg.fake.group("Elsewhere", carol, alice)
    m = tg.fake.send_photo(group, alice, sample_png(64, 64), caption="/edit add stars")
    result = await tg.photo(group, after=m.message_id)
    await tg.idle()
    retry, again = _data(result, "🔁 Retry"), _data(result, "✏️ Edit again")

    # The owner's private chat with the bot, and another group of someone else's.
    m = tg.fake.send_photo(other_group, carol, sample_png(64, 64), caption="/edit theirs")
    theirs = await tg.photo(other_group, after=m.message_id)
    dm = tg.fake.private_chat(alice)
    m = tg.fake.send_photo(dm, alice, sample_png(64, 64), caption="mine")
    own = await tg.photo(dm, after=m.message_id)
    await tg.idle()
    shown = [len(tg.fake.messages_in(c)) for c in (group, dm, other_group)]
    # Another member of the group: both buttons refuse with an alert.
    for label in ("🔁 Retry", "✏️ Edit again"):
        press = await _answered(tg, tg.fake.press_button(group, bob, result, text=label))
        assert press.answer == {"show_alert": True, "text": NOT_YOURS}

    # The owner's own job id pressed from another chat, and a forged id in someone else's chat.
    press = await _answered(tg, tg.fake.press_button(dm, alice, own, text="🔁 Retry", forge=retry))
    assert press.answer_text == NOT_YOURS
    press = await _answered(
        tg, tg.fake.press_button(other_group, carol, theirs, text="🔁 Retry", forge=again)
    )
    assert press.answer_text == NOT_YOURS

    # Nothing was posted for any refused press, and no edit ran.
    assert len(tg.api.requests) == 3
    assert [len(tg.fake.messages_in(c)) for c in (group, dm, other_group)] == shown

    # The owner, in the chat of the edit, gets the confirmation.
    press = tg.fake.press_button(group, alice, result, text="🔁 Retry")
    await tg.text(group, "Go ahead?", after=result.message_id)
    assert (await _answered(tg, press)).answer == {"show_alert": False}


async def test_unknown_callback_data_is_answered(tg: TelegramHarness) -> None:
    user = tg.fake.user()
    chat: FakeChat = tg.fake.private_chat(user)
    m = tg.fake.send_photo(chat, user, sample_png(64, 64), caption="stars")
    result = await tg.photo(chat, after=m.message_id)
    await tg.idle()
    for data in ("old_version:123", "retry:not-hex", "set:colour:red"):
        press = await _answered(tg, tg.fake.press_button(chat, user, result, text="🔁 Retry", forge=data))
        assert press.answered
    assert len(tg.api.requests) == 1


async def test_a_settings_menu_answers_only_who_asked(tg: TelegramHarness) -> None:
    alice, bob = tg.fake.user(first_name="Alice"), tg.fake.user()
    group = tg.fake.group("Photo club", alice, bob)
    m = tg.fake.send_text(group, alice, "/settings")
    menu = await tg.text(group, "Your defaults", after=m.message_id)
    press = await _answered(tg, tg.fake.press_button(group, bob, menu, "set:n:2"))
    assert press.answer == {"show_alert": True, "text": NOT_YOURS}
    assert not tg.fake.message(group, menu.message_id).edited
    press = await _answered(tg, tg.fake.press_button(group, alice, menu, "set:n:2"))
    await tg.fake.wait_for(lambda: "✓ 2" in tg.fake.message(group, menu.message_id).button_texts, 10)
