"""The console's words: its rewordings (``locales/<locale>/rewordings.json``: how to use it from
a terminal) over the core's messages. Every text it prints renders here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import i18n
from core.actions import Text

LOCALES = Path(__file__).parent / "locales"
CATALOGS = i18n.Catalogs(LOCALES)


def render(locale: str, text: Text | str, **params: Any) -> str:
    """Like :func:`core.i18n.render`, in the console's words."""
    return CATALOGS.render(locale, text, **params)
