"""Per-user ordering on top of PTB's concurrent update processing.

Updates of different users run concurrently (one user's slow request never delays another's),
while the updates of one user in one chat are handled strictly in arrival order. With a
:class:`core.ordering.ConversationGuard` (several processes on PostgreSQL, issue 14) that order
holds across processes too: a process handles an update once the conversation's earlier ones
were handled wherever they arrived, under the conversation's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from core.ordering import ConversationGuard


def _key(update: object) -> tuple[int, int] | None:
    if not isinstance(update, Update) or update.effective_user is None:
        return None
    chat = update.effective_chat
    return (chat.id if chat else 0, update.effective_user.id)


class PerUserOrder(BaseUpdateProcessor):
    """Concurrent across users, sequential within one user's conversation.

    ``on_handled`` is told about each update whose handlers returned (PTB's error handlers
    included), never about one cut off by a shutdown: that one is handled again later.
    """

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        on_handled: Callable[[object], Awaitable[None]] | None = None,
        guard: ConversationGuard | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._guard = guard
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}
        self._waiting: dict[tuple[int, int], int] = {}
        self._on_handled = on_handled

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the handler coroutine under the lock of the update's user, then report it handled."""
        await self._in_order(update, coroutine)
        if self._on_handled is not None:
            await self._on_handled(update)

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                if self._guard is None or not isinstance(update, Update):
                    await coroutine
                else:
                    conversation = f"{key[0]}:{key[1]}"
                    async with self._guard.ordered("telegram", conversation, str(update.update_id)):
                        await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
