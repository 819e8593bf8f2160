"""Flood-control emulation for the fake Bot API: sliding-window limits and scripted 429s.

Off by default. Limits count message-producing calls (send*, edit*, copy/forward) per bot; a call over a
limit is refused with 429 and ``parameters.retry_after`` and does not count. Injected floods are consumed
first and are fully deterministic, so tests that must see a 429 use ``inject``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COUNTED_PREFIXES = ("send", "edit", "copymessage", "forwardmessage")
NOT_COUNTED = frozenset({"sendchataction"})


@dataclass(frozen=True, slots=True)
class FloodHit:
    """One 429 the fake answered."""

    method: str
    chat_id: int | str | None
    retry_after: float
    reason: str


@dataclass
class _Injection:
    remaining: int
    retry_after: float
    method: str | None
    chat_id: int | str | None


@dataclass
class FloodControl:
    """Per-chat, per-group and overall limits as (calls, seconds); ``None`` disables a limit.

    ``retry_after`` overrides the computed wait (Telegram sends whole seconds; tests may use fractions
    so PTB's retry machinery runs fast). ``clock`` is injectable for deterministic window tests.
    """

    per_chat: tuple[int, float] | None = None
    per_group: tuple[int, float] | None = None
    overall: tuple[int, float] | None = None
    retry_after: float | None = None
    clock: Callable[[], float] = time.monotonic
    hits: list[FloodHit] = field(default_factory=list)
    _windows: dict[tuple[str, object], deque[float]] = field(default_factory=dict)
    _injections: list[_Injection] = field(default_factory=list)

    def limit(
        self,
        *,
        per_chat: tuple[int, float] | None = None,
        per_group: tuple[int, float] | None = None,
        overall: tuple[int, float] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Turn sliding-window limits on (e.g. ``per_chat=(1, 1.0)``: one message per second per chat)."""
        self.per_chat, self.per_group, self.overall = per_chat, per_group, overall
        self.retry_after = retry_after
        self._windows.clear()

    def telegram_defaults(self) -> None:
        """The limits Telegram documents: ~1 msg/s per chat, 20/min per group, 30/s overall."""
        self.limit(per_chat=(1, 1.0), per_group=(20, 60.0), overall=(30, 1.0))

    def inject(
        self, times: int = 1, *, retry_after: float = 1, method: str | None = None, chat: Any = None
    ) -> None:
        """Refuse the next ``times`` matching counted calls with 429 (``chat``: a FakeChat or a chat_id)."""
        chat_id: int | str | None = getattr(chat, "id", chat)
        self._injections.append(_Injection(times, retry_after, method.lower() if method else None, chat_id))

    def off(self) -> None:
        """Remove every limit and pending injection."""
        self.limit()
        self._injections.clear()

    def check(self, method: str, chat_id: int | str | None) -> float | None:
        """Return retry_after when this call must be refused, else count it and return None."""
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
            return self._hit(method, chat_id, injection.retry_after, "injected")
        now = self.clock()
        windows: list[tuple[str, object, tuple[int, float]]] = []
        if self.overall:
            windows.append(("overall", None, self.overall))
        if self.per_chat and chat_id is not None:
            windows.append(("chat", str(chat_id), self.per_chat))
        if self.per_group and _is_group(chat_id):
            windows.append(("group", str(chat_id), self.per_group))
        for name, key, (count, period) in windows:
            log = self._windows.setdefault((name, key), deque())
            while log and log[0] <= now - period:
                log.popleft()
            if len(log) >= count:
                wait = log[0] + period - now
                retry = self.retry_after if self.retry_after is not None else max(1, math.ceil(wait))
                return self._hit(method, chat_id, retry, name)
        for name, key, _ in windows:
            self._windows[(name, key)].append(now)
        return None

    def _hit(self, method: str, chat_id: int | str | None, retry_after: float, reason: str) -> float:
        self.hits.append(FloodHit(method, chat_id, retry_after, reason))
        return retry_after


def _is_group(chat_id: int | str | None) -> bool:
    if isinstance(chat_id, str):
        return chat_id.startswith("@") or (chat_id.lstrip("-").isdigit() and int(chat_id) < 0)
    return chat_id is not None and chat_id < 0
