"""One SQLite writer at a time per process, the writes users wait for first.

SQLite has one write lock per database file. Left to the lock, a burst's writers queue inside
SQLite's busy handler: each holds a pooled connection while it sleeps and retries (backing off up
to 100 ms between tries), so the pool runs dry for reads too, and the turn order is luck. Under a
200-user burst that put the first feedback of the last users 10+ s behind their messages, and a
bystander's ``/usage`` (a read) behind them all.

:class:`WriteGate` queues this process's writers before they take a connection and hands the lock
on the moment it is free, in priority order:
- :func:`urgent`: taking in messages (Telegram's updates are handled, and the next ones fetched,
  only once stored; behind a burst's new jobs a bystander's ``/usage`` waited seconds to be
  read at all);
- then by default: reserving an edit, answering a command; and, in :func:`foreground`, the
  writes a running job's paid call waits for (its call start, with its status message's id).
  As bookkeeping they held every call of a burst back until its last job was stored (200
  users: every call 3-4 s late); ahead of new jobs they would delay the later users' first
  feedback instead;
- last, :func:`background`: a running job's bookkeeping (stages, results, commits, heartbeats).
Within a priority the order is FIFO.

PostgreSQL has row locks and needs no gate (:func:`gate_for` gives a no-op one). Several
processes on one SQLite file still meet at SQLite's lock (``busy_timeout``), as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the job runner marks its writes without importing SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_URGENT, _NORMAL, _BACKGROUND = 0, 1, 2
_priority: ContextVar[int] = ContextVar("editbot_write_priority", default=_NORMAL)


class background:  # lower case: used like a function, ``background()`` or ``with background():``
    """Writes made after this call wait behind the others: for the rest of the task (a task runs
    in its own copy of the context, so the mark ends with it), or to the end of a ``with``."""

    _level = _BACKGROUND

    def __init__(self) -> None:
        self._token = _priority.set(self._level)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _priority.reset(self._token)


class foreground(background):
    """Undoes :class:`background` (used as it is): for a write a user waits for, made from a
    task marked ``background``."""

    _level = _NORMAL


class urgent(background):
    """Writes made after this call go before all others (used as :class:`background` is): taking
    in messages, which every later message waits for."""

    _level = _URGENT


class WriteGate:
    """An asyncio lock served by priority, then arrival (see the module)."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the gate for the block."""
        if not self._held and not self._waiters:
            self._held = True
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            priority = _priority.get()
            heapq.heappush(self._waiters, (priority, next(self._seq), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed over just as the waiter was cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # a cancelled waiter gives its turn away
                future.set_result(None)  # the gate stays held: it passes to this waiter
                return
        self._held = False


class _NoGate(WriteGate):
    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        yield


_gates: weakref.WeakKeyDictionary[object, WriteGate] = weakref.WeakKeyDictionary()
_NO_GATE = _NoGate()


def gate_for(sessions: async_sessionmaker[AsyncSession]) -> WriteGate:
    """The gate of the engine behind ``sessions``: shared by every store on a SQLite engine."""
    engine = sessions.kw.get("bind")
    if engine is None or getattr(engine.dialect, "name", None) != "sqlite":
        return _NO_GATE
    gate = _gates.get(engine.sync_engine)
    if gate is None:
        gate = _gates[engine.sync_engine] = WriteGate()
    return gate
