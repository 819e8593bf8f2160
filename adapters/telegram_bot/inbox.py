"""Telegram updates are stored before Telegram is told they arrived, and replayed if never handled.

Why the update queue: PTB's polling loop puts every update of a ``getUpdates`` batch into
``Application.update_queue`` and only then advances the offset, which Telegram takes as the
receipt on the *next* ``getUpdates``; the webhook handler puts the update into the same queue
before it answers 200. A queue whose ``put`` returns only once the update is in the database
therefore makes both paths durable-before-confirmed, with no change to PTB's loops (a custom
``Updater`` or an own ``getUpdates`` loop would copy PTB's retry and bootstrap logic). If the
database is down, ``put`` keeps trying: polling stalls, and Telegram keeps the updates.

Invariants:
- an update is handled at most once per delivery: a redelivery of a stored one (handled or not)
  is skipped; one whose handler died (the process crashed) is replayed by the sweep after the
  job stale time, by whichever process runs it;
- an update is marked handled when its handler returned; album parts only when their album was
  handled (an album waits for its last part before it becomes one edit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from telegram import Bot, Message, Update

from core.storage.gate import background
from core.storage.protocol import Store, StoredUpdate

log = logging.getLogger(__name__)

PLATFORM = "telegram"
_RETRY_MAX = 5.0


def conversation_of(update: object) -> str | None:
    """``chat:user`` of an update (the unit whose updates apply in order), or None."""
    if not isinstance(update, Update) or update.effective_user is None:
        return None
    chat = update.effective_chat
    return f"{chat.id if chat else 0}:{update.effective_user.id}"


class Inbox(asyncio.Queue[object]):
    """``Application.update_queue`` that stores each update before PTB confirms it."""

    def __init__(self, store: Store, worker_id: str, stale_after: float) -> None:
        super().__init__()
        self._store = store
        self._worker_id = worker_id
        self._stale_after = stale_after
        self._bot: Bot | None = None
        self._albums: dict[tuple[int, int], int] = {}  # (chat, message) -> update id, until the album ran
        self._sweeper: asyncio.Task[None] | None = None

    async def put(self, item: object) -> None:
        """Store a new update, then queue it; a redelivered one is dropped (it is stored already)."""
        if isinstance(item, Update) and not await self._store_once(item):
            log.info("update %s was delivered again: skipped", item.update_id)
            return
        await super().put(item)

    async def _store_once(self, update: Update) -> bool:
        message = update.message
        stored = StoredUpdate(
            PLATFORM,
            str(update.update_id),
            update.to_dict(),
            conversation=conversation_of(update),
            media_group=message.media_group_id if message is not None else None,
        )
        delay = 0.2
        while True:
            try:
                return await self._store.inbox_put(stored, self._worker_id)
            except Exception:
                # Not stored, not confirmed: Telegram keeps it. Retry rather than drop or let in.
                log.warning("storing update %s failed; retrying", update.update_id, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(_RETRY_MAX, delay * 2)

    async def handled(self, update: object) -> None:
        """The handler of ``update`` returned: forget it (album parts wait for their album)."""
        if not isinstance(update, Update):
            return
        message = update.message
        if message is not None and message.media_group_id:
            self._albums[(message.chat_id, message.message_id)] = update.update_id
            return
        await self._done(update.update_id)

    def adopt(self, chat_id: int, message_id: int, update_id: int) -> None:
        """An album part another process received is handled with this process's album."""
        self._albums[(chat_id, message_id)] = update_id

    def forget(self, parts: Iterable[Message]) -> None:
        """Album parts another process handles (with their album)."""
        for message in parts:
            self._albums.pop((message.chat_id, message.message_id), None)

    async def albums_handled(self, parts: Iterable[Message]) -> None:
        """An album became one edit (or was refused): its parts are handled."""
        for message in parts:
            update_id = self._albums.pop((message.chat_id, message.message_id), None)
            if update_id is not None:
                await self._done(update_id)

    async def _done(self, update_id: int) -> None:
        try:
            with background():  # the update was answered: this mark is bookkeeping
                await self._store.inbox_done(PLATFORM, str(update_id))
        except Exception:  # handled all the same; at worst it is replayed once (idempotent)
            log.warning("could not mark update %s handled", update_id, exc_info=True)

    def start(self, bot: Bot, interval: float) -> None:
        """Replay updates whose handler died, now and every ``interval`` seconds."""
        self._bot = bot
        self._sweeper = asyncio.create_task(self._sweep(interval), name="telegram-inbox-sweep")

    async def stop(self) -> None:
        """Stop replaying (on shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self, interval: float) -> None:
        while True:
            try:
                await self.replay()
            except Exception:
                log.warning("replaying stored updates failed; will try again", exc_info=True)
            await asyncio.sleep(interval)

    async def replay(self) -> int:
        """Queue the stored updates no live handler finished; the number queued."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._stale_after)
        stored = await self._store.inbox_claim(PLATFORM, cutoff, self._worker_id)
        for item in stored:
            update = Update.de_json(item.payload, self._bot)
            if update is None:
                continue
            log.warning("update %s was never handled (a crash): handling it now", item.update_id)
            await super().put(update)
        return len(stored)
