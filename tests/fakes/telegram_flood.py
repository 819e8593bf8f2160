"""Flood control for the fake Bot API: scripted 429s.

Off by default. ``inject`` refuses the next matching message-producing calls (send*, edit*,
copy/forward) with 429 and ``parameters.retry_after``, deterministically, so a test that must see
Telegram's flood control (and the bot riding it out) scripts exactly where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNTED_PREFIXES = ("send", "edit", "copymessage", "forwardmessage")
NOT_COUNTED = frozenset({"sendchataction"})


@dataclass
class _Injection:
    remaining: int
    retry_after: float
    method: str | None
    chat_id: int | str | None


@dataclass
class FloodControl:
    """Scripted 429s; ``retry_after`` may be a fraction so PTB's retry machinery runs fast."""

    _injections: list[_Injection] = field(default_factory=list)

    def inject(
        self, times: int = 1, *, retry_after: float = 1, method: str | None = None, chat: Any = None
    ) -> None:
        """Refuse the next ``times`` matching counted calls with 429 (``chat``: a FakeChat or a chat_id)."""
        chat_id: int | str | None = getattr(chat, "id", chat)
        self._injections.append(_Injection(times, retry_after, method.lower() if method else None, chat_id))

    def check(self, method: str, chat_id: int | str | None) -> float | None:
        """Return retry_after when this call must be refused, else None."""
        method = method.lower()
        if method in NOT_COUNTED or not method.startswith(COUNTED_PREFIXES):
            return None
        for injection in self._injections:
            if injection.method not in (None, method):
                continue
            if injection.chat_id is not None and str(injection.chat_id) != str(chat_id):
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            return injection.retry_after
        return None
