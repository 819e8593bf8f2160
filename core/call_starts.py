"""Recording "the paid call starts now" for many jobs at once.

Before each edit-API call its job is stored at stage CALLING with one more attempt (crash safety:
a call that may have run is never blindly repeated). Under a burst that was one write per job, in
turn with every other write (SQLite has one writer): 200 edits spent about a second on them
before the last call could start. Jobs that reach their call while one batch is being written now
go together in the next, one UPDATE for all (as heartbeats are), each still under its own fencing
token: a job whose token no longer holds gets :class:`core.storage.protocol.LeaseLost`, as before.
"""

from __future__ import annotations

import asyncio

from core.batches import Batches
from core.storage.gate import background
from core.storage.protocol import LeaseLost, Store

_Start = tuple[str, int | None, asyncio.Future[None]]


class CallStarts:
    """Batches :meth:`core.storage.protocol.Store.start_calls` (see the module)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._batches: Batches[_Start] = Batches(self._write, "call-starts")

    async def start(self, job_id: str, claim: int | None) -> None:
        """Return once the job's call start is stored; :class:`LeaseLost` if ``claim`` lost it."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batches.add((job_id, claim, stored))
        await stored

    async def _write(self, batch: list[_Start]) -> None:
        background()  # the job's own bookkeeping: behind the writes users wait for
        try:
            started = await self._store.start_calls([(job_id, claim) for job_id, claim, _ in batch])
        except Exception as exc:  # each waiting job fails as its own write would have
            for *_, stored in batch:
                if not stored.done():
                    stored.set_exception(exc)
            return
        for job_id, claim, stored in batch:
            if stored.done():  # its job was cancelled meanwhile
                continue
            if job_id in started or claim is None:
                stored.set_result(None)
            else:
                stored.set_exception(LeaseLost(f"claim {claim} is no longer held"))
