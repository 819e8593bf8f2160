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
from core.storage.gate import foreground
from core.storage.protocol import CallStart, LeaseLost, Store

_Start = tuple[CallStart, asyncio.Future[None]]


class CallStarts:
    """Batches :meth:`core.storage.protocol.Store.start_calls` (see the module)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._batches: Batches[_Start] = Batches(self._write, "call-starts")

    async def start(self, call: CallStart) -> None:
        """Return once the call start (and status message id) is stored; :class:`LeaseLost` if
        its claim lost the job."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batches.add((call, stored))
        await stored

    async def _write(self, batch: list[_Start]) -> None:
        # The paid call waits for this write: behind a burst's new jobs, no call would start
        # until the last of them is stored (200 edits: every call ~3.5 s late).
        foreground()
        try:
            started = await self._store.start_calls([call for call, _ in batch])
        except Exception as exc:  # each waiting job fails as its own write would have
            for _, stored in batch:
                if not stored.done():
                    stored.set_exception(exc)
            return
        for call, stored in batch:
            if stored.done():  # its job was cancelled meanwhile
                continue
            if call.job_id in started or call.claim is None:
                stored.set_result(None)
            else:
                stored.set_exception(LeaseLost(f"claim {call.claim} is no longer held"))
