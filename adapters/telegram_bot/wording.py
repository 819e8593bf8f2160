"""The Telegram bot's words: its own catalog (``locales/<locale>/telegram.json``: command menu,
settings panel, ...) over the core's platform-neutral messages. Every text it shows renders here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import i18n
from core.actions import Text

LOCALES = Path(__file__).parent / "locales"
CATALOGS = i18n.Catalogs(LOCALES)


def render(locale: str, text: Text | str, **params: Any) -> str:
    """Like :func:`core.i18n.render`, with the Telegram bot's own messages."""
    return CATALOGS.render(locale, text, **params)
