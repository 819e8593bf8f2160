"""The Discord bot's words: its own catalog over the core's; every text it shows renders here.

``locales/<locale>/discord.json`` holds the Discord bot's own messages (command and option
descriptions, modals, ...). The core's catalogs speak of "groups" and of replying to a member's
message (Telegram's way); on Discord a community is a server and a member is picked in a command
option. Rather than branching in the core, ``rewordings.json`` says those core messages in
Discord's terms under the core's own keys: :class:`core.i18n.Catalogs` finds them first, also for
messages nested as parameters (``{what}`` of a limit change, a usage hint). Rewordings keep their
original's placeholders (a catalog test checks it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import i18n
from core.actions import Text

LOCALES = Path(__file__).parent / "locales"
CATALOGS = i18n.Catalogs(LOCALES)


def render(locale: str, text: Text | str, **params: Any) -> str:
    """Like :func:`core.i18n.render`, in Discord's words."""
    return CATALOGS.render(locale, text, **params)
