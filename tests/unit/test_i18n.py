"""Catalogs: every locale has every key English has, with the same placeholders."""

import re
import string
from pathlib import Path

import pytest

from adapters.discord_bot import wording as discord_wording
from adapters.telegram_bot import wording as telegram_wording
from core import i18n
from core.actions import Text

FOLDERS = {"core": None, "telegram": telegram_wording.LOCALES, "discord": discord_wording.LOCALES}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("locale", [loc for loc in i18n.available() if loc != "en"])
def test_catalog_complete(locale: str, folder: str) -> None:
    root = FOLDERS[folder]
    en, other = i18n.catalog("en", root), i18n.catalog(locale, root)
    assert en
    assert set(en) == set(other), set(en) ^ set(other)
    for key, template in en.items():
        assert _fields(template) == _fields(other[key]), key


@pytest.mark.parametrize("root", [telegram_wording.LOCALES, discord_wording.LOCALES])
def test_adapters_have_the_same_locales_as_the_core(root: Path) -> None:
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == i18n.available()


def test_core_catalogs_hold_no_platform_texts() -> None:
    """Each platform's texts live in its adapter's catalog, not the core's."""
    core = i18n.catalog("en")
    assert not [k for k in core if k.startswith(("discord_", "telegram_"))]
    assert not set(i18n.catalog("en", telegram_wording.LOCALES)) & set(core)


def test_render_and_fallbacks() -> None:
    assert "5" in i18n.render("en", Text("quota_exceeded", {"used": 5, "limit": 5, "reset": "tomorrow"}))
    assert i18n.render("xx", "busy") == i18n.render("en", "busy")
    assert i18n.render("en", "no_such_key") == "no_such_key"
    assert re.search("{limit}", i18n.render("en", "too_many_images", model="m"))


@pytest.mark.parametrize(
    ("code", "locale"),
    [("zh-hans", "zh-CN"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("en-US", "en"), (None, "en"), ("de", "en")],
)
def test_pick_locale(code: str | None, locale: str) -> None:
    assert i18n.pick_locale(code) == locale


def test_a_parameter_can_ask_for_a_variant_of_a_message() -> None:
    day, week = Text("period_day"), Text("period_week")
    assert (
        i18n.render(
            "en", Text("usage", {"period": day, "used": 1, "limit": 2, "left": 1, "reset": "r"})
        ).count("today")
        == 1
    )
    assert "this week" in i18n.render(
        "en", Text("usage", {"period": week, "used": 1, "limit": 2, "left": 1, "reset": "r"})
    )
    assert "per day" in i18n.render("en", "limit_set", what="x", limit=1, previous=2, period=day)
    assert i18n.render("en", "{size:.1f} MB", size=2.25) == "2.2 MB"  # ordinary format specs still work
