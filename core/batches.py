"""Writes that arrive while one is running go together in the next one.

Used where many tasks each need the same small write at about the same moment (a burst's
updates stored, their "handled" marks, their jobs' call starts): one statement for all of them
instead of one each in turn, without a timer or a batch size to tune: the first write goes at
once, and whatever arrived meanwhile is the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batches(Generic[T]):
    """Hands the items added to ``write`` in batches, one batch at a time, in order.

    ``write`` deals with its own failures (retries, logs, or hands them to the items' futures):
    an exception from it would leave the rest of the items waiting for the next ``add``.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[None]], name: str) -> None:
        self._write = write
        self._name = name
        self._pending: list[T] = []
        self._writer: asyncio.Task[None] | None = None

    def add(self, item: T) -> None:
        """Queue ``item`` for the next batch (written at once when no batch is being written)."""
        self._pending.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name=self._name)

    async def drained(self) -> None:
        """Wait until every item added so far is written."""
        if self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await self._write(batch)
