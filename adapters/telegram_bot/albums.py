"""Albums: Telegram sends each photo of an album as its own update, sharing ``media_group_id``.

There is no end marker, so the parts are collected until none has arrived for ``delay``
seconds, then handed on as one batch (in message order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Message

log = logging.getLogger(__name__)

AlbumHandler = Callable[[list[Message]], Awaitable[None]]


class AlbumCollector:
    """Debounces album parts per (chat, media_group_id)."""

    def __init__(self, on_album: AlbumHandler, delay: float = 1.0) -> None:
        self._on_album = on_album
        self._delay = delay
        self._parts: dict[tuple[int, str], list[Message]] = {}
        self._timers: dict[tuple[int, str], asyncio.Task[None]] = {}

    def add(self, message: Message) -> None:
        """Collect one part; the batch is flushed ``delay`` seconds after the last part."""
        assert message.media_group_id is not None
        key = (message.chat.id, message.media_group_id)
        self._parts.setdefault(key, []).append(message)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.create_task(self._flush_later(key), name=f"album-{key[1]}")

    async def _flush_later(self, key: tuple[int, str]) -> None:
        await asyncio.sleep(self._delay)
        self._timers.pop(key, None)
        parts = sorted(self._parts.pop(key, []), key=lambda m: m.message_id)
        try:
            await self._on_album(parts)
        except Exception:
            log.exception("handling album %s failed", key[1])

    async def close(self) -> None:
        """Drop pending albums (on shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        await asyncio.gather(*self._timers.values(), return_exceptions=True)
        self._timers.clear()
        self._parts.clear()
