"""The Discord adapter's wording: variants of core messages, and long answers split into messages."""

from __future__ import annotations

import string

import pytest

from adapters.discord_bot import wording
from adapters.discord_bot.webhooks import split
from core import i18n
from core.actions import Text

VARIANTS = sorted(k for k in i18n.catalog("en") if k.startswith(wording.VARIANT_PREFIX))


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("locale", i18n.available())
def test_variants_replace_existing_messages_with_the_same_placeholders(locale: str) -> None:
    catalog = i18n.catalog(locale)
    assert VARIANTS
    for key in VARIANTS:
        original = key.removeprefix(wording.VARIANT_PREFIX)
        assert original in catalog, f"{key} varies a message that does not exist"
        assert _fields(catalog[key]) == _fields(catalog[original]), key


def test_variants_apply_to_nested_messages_and_leave_others_alone() -> None:
    nested = Text("admin_needs_target", {"usage": Text("admin_usage_grant")})
    assert wording.render("en", nested) == "Whom do you mean? " + i18n.render(
        "en", "discord_variant_admin_usage_grant"
    )
    assert wording.render("en", "admin_not_allowed", command="grant").startswith("Sorry, only this server's")
    assert wording.render("zh-CN", "busy") == i18n.render("zh-CN", "busy")  # no variant: the core's words


def test_split_keeps_lines_whole_and_messages_short() -> None:
    lines = [f"{i:02d} " + "x" * 97 for i in range(50)]  # 100 characters each
    pieces = split("\n".join(lines), 1000)
    assert [len(p) for p in pieces] == [908] * 5 + [504]  # 9 whole lines fit in 1000 characters
    assert "\n".join(pieces) == "\n".join(lines)
    assert split("short") == ["short"]
    (cut,) = split("y" * 30, 10)
    assert cut == "y" * 9 + "…"
