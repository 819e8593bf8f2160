"""Core messages in Discord's words: a catalog key ``K`` is shown as ``discord_variant_K`` when that exists.

The core's catalogs speak of "groups" and of replying to a member's message (Telegram's way); on
Discord a community is a server and a member is picked in a command option. Rather than branching
in the core, the Discord catalog may hold a variant of any core message; :func:`render` swaps it in,
also for messages nested as parameters (``{what}`` of a limit change, a usage hint). Variants keep
their original's placeholders (a catalog test checks every locale has the same ones).
"""

from __future__ import annotations

from typing import Any

from core import i18n
from core.actions import Text

VARIANT_PREFIX = "discord_variant_"


def variant(text: Text) -> Text:
    """``text`` with its key, and those of nested messages, replaced by their Discord variants."""
    key = VARIANT_PREFIX + text.key
    # Variants are looked up in English, the fallback every locale has: a variant missing in one
    # locale still renders (in English) rather than silently showing the core wording there.
    chosen = key if key in i18n.catalog(i18n.FALLBACK) else text.key
    params = {
        name: variant(value) if isinstance(value, Text) else value for name, value in text.params.items()
    }
    return Text(chosen, params)


def render(locale: str, text: Text | str, **params: Any) -> str:
    """Like :func:`core.i18n.render`, in Discord's words."""
    message = Text(text, params) if isinstance(text, str) else Text(text.key, {**text.params, **params})
    return i18n.render(locale, variant(message))
