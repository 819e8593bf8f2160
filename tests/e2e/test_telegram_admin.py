"""Telegram admin controls end to end: the permission matrix of every admin command, and their effects."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.edit_api import sample_png

# command -> (text, needs a replied-to member, changes something that is audited)
COMMANDS = {
    "limits": ("/limits", False, False),
    "setlimit": ("/setlimit members 3", False, True),
    "grant": ("/grant 2", True, True),
    "take": ("/take 1", True, True),
    "resetusage": ("/resetusage", True, True),
    "block": ("/block", True, True),
    "unblock": ("/unblock", True, False),  # nobody is blocked: a polite "not blocked", nothing to audit
    "audit": ("/audit", False, False),
    "stats": ("/stats", False, False),
}


def _world(tg: TelegramHarness):  # type: ignore[no-untyped-def]
    boss, member, owner = (
        tg.fake.user(first_name="Boss"),
        tg.fake.user(first_name="Mia"),
        tg.fake.user(first_name="Olga"),
    )
    group = tg.fake.group("Photo club", member, owner, admins=[boss])
    return group, boss, member, owner


@pytest.mark.parametrize("role", ["member", "admin", "owner"])
@pytest.mark.parametrize("name", list(COMMANDS))
async def test_permission_matrix(tg: TelegramHarness, name: str, role: str) -> None:
    group, boss, member, owner = _world(tg)
    await tg.restart(admins=f"telegram:{owner.id}")
    actor = {"member": member, "admin": boss, "owner": owner}[role]
    text, needs_target, audited = COMMANDS[name]
    before = await tg.core.store.audit_log(limit=50)  # type: ignore[union-attr]

    target_message = tg.fake.send_text(group, member, "hi all") if needs_target else None
    m = tg.fake.send_text(group, actor, text, reply_to=target_message)
    reply = await tg.reply(group, lambda x: x.reply_to_message_id == m.message_id)
    after = await tg.core.store.audit_log(limit=50)  # type: ignore[union-attr]

    if role == "member":
        assert reply.content == f"Sorry, only this group's admins can use /{name}."
        assert after == before
    else:
        assert "Sorry" not in (reply.content or "")
        assert len(after) == len(before) + (1 if audited else 0)
        if audited:
            assert after[0].actor == f"telegram:{actor.id}" and after[0].action


@pytest.mark.parametrize("name", list(COMMANDS))
async def test_admin_commands_in_a_private_chat_are_refused(tg: TelegramHarness, name: str) -> None:
    user = tg.fake.user()
    chat = tg.fake.private_chat(user)
    m = tg.fake.send_text(chat, user, COMMANDS[name][0])
    await tg.text(chat, f"/{name} changes a group's or server's settings", after=m.message_id)


async def test_admin_commands_have_real_effects(tg: TelegramHarness) -> None:
    group, boss, member, _ = _world(tg)

    async def admin_says(text: str, about=None) -> str:  # type: ignore[no-untyped-def]
        m = tg.fake.send_text(group, boss, text, reply_to=about)
        return (await tg.reply(group, lambda x: x.reply_to_message_id == m.message_id)).content or ""

    async def member_edits(caption: str) -> str:
        m = tg.fake.send_photo(group, member, sample_png(64, 64), caption=f"/edit {caption}")

        def answer(x) -> bool:  # type: ignore[no-untyped-def]
            progress = (x.content or "").startswith(("⏳", "🖼", "🎨", "📤"))
            return x.reply_to_message_id == m.message_id and not progress

        got = await tg.reply(group, answer)
        await tg.idle()
        return "photo" if got.photo is not None else got.content or ""

    assert "1 credits per day" in await admin_says("/setlimit members 1")
    assert await member_edits("first") == "photo"
    assert (
        "no credits left" in (await member_edits("second")).lower()
        or "no credits left" in (await member_edits("second")).lower()
    )
    hello = tg.fake.send_text(group, member, "please?")
    assert "Gave" in await admin_says("/grant 2", hello)
    assert await member_edits("third") == "photo"
    assert "turned off" not in await admin_says("/block", hello)
    assert "turned off photo edits for you" in await member_edits("fourth")
    await admin_says("/unblock", hello)
    assert await member_edits("fifth") == "photo"
    assert "Reset" in await admin_says("/resetusage", hello)
    audit = await admin_says("/audit")
    assert "Latest" in audit and "Boss" in audit
    assert len(tg.api.requests) == 3


async def test_stats_sends_a_chart(tg: TelegramHarness) -> None:
    group, boss, member, _ = _world(tg)
    m = tg.fake.send_photo(group, member, sample_png(64, 64), caption="/edit something")
    await tg.photo(group, after=m.message_id)
    await tg.idle()
    m = tg.fake.send_text(group, boss, "/stats")
    chart = await tg.photo(group, after=m.message_id)
    with Image.open(io.BytesIO(chart.photo or b"")) as img:
        assert img.size == (960, 480)
        assert len(img.convert("L").getcolors(1 << 16) or []) > 10  # bars and labels, not a blank canvas
    summary = await tg.reply(group, lambda x: x.text is not None and x.message_id > m.message_id)
    assert "Mia" in (summary.content or "") or "1" in (summary.content or "")
    assert not [x for x in tg.fake.messages_in(group) if x.document and x.message_id > m.message_id]


async def test_admin_menu_is_registered_for_chat_admins(tg: TelegramHarness) -> None:
    scoped = [c["command"] for c in tg.fake.commands({"type": "all_chat_administrators"})]
    assert (
        scoped[:6] == ["edit", "settings", "usage", "skip", "cancel", "help"]
        and "stats" in scoped
        and "grant" in scoped
    )
    assert "stats" not in [c["command"] for c in tg.fake.commands()]
