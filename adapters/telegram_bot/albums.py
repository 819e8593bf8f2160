"""Albums: Telegram sends each photo of an album as its own update, sharing ``media_group_id``.

There is no end marker, so the parts are collected until none has arrived for ``delay``
seconds, then handed on as one batch (in message order).

Across processes (a webhook behind a load balancer, issue 14) the parts are collected in the
database: every part is in the inbox with its album; when a process's wait ends, the process
that received the album's last part takes every stored part, and the others leave it to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from telegram import Bot, Message, Update

from core.ordering import ConversationGuard

log = logging.getLogger(__name__)

AlbumHandler = Callable[[list[Message]], Awaitable[None]]


class PartTracker(Protocol):
    """Where handled album parts are marked (:class:`adapters.telegram_bot.inbox.Inbox`)."""

    def adopt(self, chat_id: int, message_id: int, update_id: int) -> None:
        """Mark this part handled with its album (it was received by another process)."""
        ...

    def forget(self, parts: list[Message]) -> None:
        """These parts are another process's to handle."""
        ...


class SharedAlbums:
    """Album parts from the database, so an album spread over processes is one edit."""

    def __init__(self, guard: ConversationGuard, bot: Bot, tracker: PartTracker) -> None:
        self._guard = guard
        self._bot = bot
        self._tracker = tracker

    async def gather(self, local: list[Message]) -> list[Message] | None:
        """Every stored part of the album, or None when another process has its last part."""
        group = local[0].media_group_id
        assert group is not None
        stored = await self._guard.album("telegram", group)
        parts: dict[int, Message] = {m.message_id: m for m in local}
        for item in stored:
            update = Update.de_json(item.payload, self._bot)
            message = update.message if update is not None else None
            if message is None or message.chat_id != local[0].chat_id:
                continue
            if message.message_id not in parts:
                parts[message.message_id] = message
                self._tracker.adopt(message.chat_id, message.message_id, update.update_id)
        if max(parts) > max(m.message_id for m in local):
            self._tracker.forget(local)
            return None
        return [parts[k] for k in sorted(parts)]


class AlbumCollector:
    """Debounces album parts per (chat, media_group_id)."""

    def __init__(
        self, on_album: AlbumHandler, delay: float = 1.0, shared: SharedAlbums | None = None
    ) -> None:
        self._on_album = on_album
        self._shared = shared
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
            if self._shared is not None:
                gathered = await self._shared.gather(parts)
                if gathered is None:
                    return  # the process that received the last part handles the album
                parts = gathered
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
