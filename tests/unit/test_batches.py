"""Batches: the first write goes at once; what arrives while it runs is the next batch."""

from __future__ import annotations

import asyncio

from core.batches import Batches


async def test_items_added_during_a_write_go_together_in_the_next() -> None:
    written: list[list[int]] = []
    release = asyncio.Event()

    async def write(batch: list[int]) -> None:
        written.append(batch)
        await release.wait()  # a slow database

    batches: Batches[int] = Batches(write, "test")
    batches.add(1)
    await asyncio.sleep(0)  # the first write is under way
    for i in (2, 3, 4):
        batches.add(i)
    waiting = asyncio.ensure_future(batches.drained())
    await asyncio.sleep(0)
    assert not waiting.done() and written == [[1]]
    release.set()
    await waiting
    assert written == [[1], [2, 3, 4]]
    await batches.drained()  # nothing left: returns at once
    batches.add(5)  # a new writer after the last one ended
    await batches.drained()
    assert written[-1] == [5]
