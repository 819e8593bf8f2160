"""The Discord adapter's wording: its rewordings of core messages, and long answers split into messages."""

from __future__ import annotations

import json
import string

import pytest

from adapters.discord_bot import wording
from adapters.discord_bot.webhooks import split
from core import i18n
from core.actions import Text

REWORDINGS = json.loads((wording.LOCALES / "en" / "rewordings.json").read_text(encoding="utf-8"))


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("locale", i18n.available())
def test_rewordings_replace_existing_messages_with_the_same_placeholders(locale: str) -> None:
    core, discord = i18n.catalog(locale), i18n.catalog(locale, wording.LOCALES)
    assert REWORDINGS
    for key in REWORDINGS:
        assert key in core, f"{key} rewords a message the core does not have"
        assert _fields(discord[key]) == _fields(core[key]), key
    # The bot's own messages never shadow a core message by accident.
    assert not (set(discord) - set(REWORDINGS)) & set(core)


def test_rewordings_apply_to_nested_messages_and_leave_others_alone() -> None:
    nested = Text("admin_needs_target", {"usage": Text("admin_usage_grant")})
    assert wording.render("en", nested) == "Whom do you mean? " + REWORDINGS["admin_usage_grant"]
    assert wording.render("en", "admin_not_allowed", command="grant").startswith("Sorry, only this server's")
    assert wording.render("zh-CN", "busy") == i18n.render("zh-CN", "busy")  # no rewording: the core's words
    assert i18n.render("en", "admin_not_allowed", command="grant").startswith("Sorry, only this group's")


def test_split_keeps_lines_whole_and_messages_short() -> None:
    lines = [f"{i:02d} " + "x" * 97 for i in range(50)]  # 100 characters each
    pieces = split("\n".join(lines), 1000)
    assert [len(p) for p in pieces] == [908] * 5 + [504]  # 9 whole lines fit in 1000 characters
    assert "\n".join(pieces) == "\n".join(lines)
    assert split("short") == ["short"]
    (cut,) = split("y" * 30, 10)
    assert cut == "y" * 9 + "…"
