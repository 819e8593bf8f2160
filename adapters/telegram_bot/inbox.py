"""Telegram updates are stored before Telegram is told they arrived, and replayed if never handled.

Why the update queue: PTB's polling loop puts every update of a ``getUpdates`` batch into
``Application.update_queue`` and only then advances the offset, which Telegram takes as the
receipt on the *next* ``getUpdates``; the webhook handler puts the update into the same queue
before it answers 200. The queue stores updates before they reach a handler, with no change to
PTB's loops (a custom ``Updater`` or an own ``getUpdates`` loop would copy PTB's retry and
bootstrap logic):

- updates are stored in batches, one transaction for all that arrived meanwhile: a burst of 200
  updates is one write, not 200 in a row (which had put the last user's first feedback seconds
  behind the first's);
- a webhook call's ``put`` returns once its update is stored, so the 200 is the receipt;
- in polling mode ``put`` returns at once, and the next ``getUpdates`` (the receipt) waits until
  the batch is stored: PTB sends it through its own request object, :class:`ReceiptRequest`.

If the database is down, storing keeps trying: polling stalls, and Telegram keeps the updates.

Invariants:
- an update is handled at most once per delivery: a redelivery of a stored one (handled or not)
  is skipped; one whose handler died (the process crashed) is replayed by the sweep after the
  job stale time, by whichever process runs it;
- an update is marked handled once its handler returned (with the others handled meanwhile, in
  one statement; the last ones on shutdown); album parts only when their album was handled (an
  album waits for its last part before it becomes one edit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, Message, Update
from telegram.request import HTTPXRequest

from core.batches import Batches
from core.storage.gate import background, urgent
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


class ReceiptRequest(HTTPXRequest):
    """PTB's request object for ``getUpdates`` (``ApplicationBuilder.get_updates_request``):
    each call waits for ``before`` first, the inbox's "everything put so far is stored"."""

    def __init__(self, before: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._before = before

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Send the call once the updates it confirms are stored."""
        await self._before()
        return await super().do_request(*args, **kwargs)


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
        self._stores: Batches[tuple[Update, asyncio.Future[None]]] = Batches(
            self._store_batch, "telegram-inbox-store"
        )
        self._marks: Batches[str] = Batches(self._mark_handled, "telegram-inbox-handled")
        self.polling = False
        """Set by the runner in polling mode: the next ``getUpdates`` is the receipt, not ``put``."""

    async def put(self, item: object) -> None:
        """Store a new update, then queue it; a redelivered one is dropped (it is stored already).

        In polling mode this returns before the update is stored (see the module docstring).
        """
        if not isinstance(item, Update):
            await super().put(item)
            return
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stores.add((item, stored))
        if not self.polling:
            await asyncio.shield(stored)

    async def confirmable(self) -> None:
        """Wait until every update put so far is stored: then a receipt may confirm them."""
        await self._stores.drained()

    async def _store_batch(self, batch: list[tuple[Update, asyncio.Future[None]]]) -> None:
        """Store the updates in one transaction, then queue the new ones for their handlers."""
        urgent()  # every later update waits for this one's receipt (see core.storage.gate)
        new = await self._stored_ids([update for update, _ in batch])
        for update, stored in batch:
            if str(update.update_id) in new:
                new.discard(str(update.update_id))  # one delivery sent twice at once: once
                super().put_nowait(update)
            else:
                log.info("update %s was delivered again: skipped", update.update_id)
            stored.set_result(None)

    async def _stored_ids(self, updates: list[Update]) -> set[str]:
        """Store the updates in one transaction (retrying until it works); the ids that were new."""
        batch = [
            StoredUpdate(
                PLATFORM,
                str(update.update_id),
                update.to_dict(),
                conversation=conversation_of(update),
                media_group=update.message.media_group_id if update.message is not None else None,
            )
            for update in updates
        ]
        delay = 0.2
        while True:
            try:
                return await self._store.inbox_put(batch, self._worker_id)
            except Exception:
                # Not stored, not confirmed: Telegram keeps them. Retry rather than drop or let in.
                log.warning("storing %d update(s) failed; retrying", len(batch), exc_info=True)
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
        self._done(update.update_id)

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
                self._done(update_id)

    def _done(self, update_id: int) -> None:
        """Marked with the others handled meanwhile, in one write after the replies (bookkeeping)."""
        self._marks.add(str(update_id))

    async def _mark_handled(self, batch: list[str]) -> None:
        background()  # the updates were answered: this is bookkeeping
        try:
            await self._store.inbox_done(PLATFORM, batch)
        except Exception:  # handled all the same; at worst replayed once (idempotent)
            log.warning("could not mark updates %s handled", batch, exc_info=True)

    async def close(self) -> None:
        """Store the last "handled" marks (after the last handler returned, on shutdown)."""
        await self._marks.drained()

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
