"""aiosqlite with one trip to its thread per statement.

aiosqlite runs each sqlite3 call in its connection's thread, and SQLAlchemy's adapter makes four
such calls per statement: create a cursor, execute, fetch the rows, close the cursor. Each trip
hands a future to the thread and waits for the event loop to be woken with the answer, so under a
burst every statement waited four times for a busy loop (a 200-user burst: ~35 trips per edit, a
fifth of the loop's time spent in them, and each read a bystander's ``/usage`` makes four loop
turns slower). Here a statement is one trip: the thread executes it, fetches every row, reads the
description, row count and last row id, and closes its sqlite3 cursor; the cursor the adapter
sees answers from those.

Every statement editbot runs returns few rows (nothing streams results), so fetching them all at
once changes nothing else. Errors are raised by ``execute`` as before. SQLAlchemy takes this
connection through its documented ``async_creator_fn`` connect argument (see
:func:`core.storage.db.create_engine`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

_Answer = tuple[Any, list[Any], int, int | None]
_Trip = Callable[..., Awaitable[Any]]  # aiosqlite's ``Connection._execute`` (untyped there)


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool, commit: bool = False
) -> _Answer:
    """In the connection's thread: the whole statement, its rows and what the cursor says of it;
    with ``commit``, the transaction it is in is committed too."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        answer = cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
    if commit and connection.in_transaction:
        connection.commit()
    return answer


class OneTripCursor(aiosqlite.Cursor):
    """A cursor whose ``execute`` is the only trip to the thread (see the module)."""

    def __init__(self, conn: OneTripConnection) -> None:  # no sqlite3 cursor is held between trips
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._description: Any = None
        self._rows: list[Any] = []
        self._next = 0
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    async def _answer(self, sql: str, parameters: Any, many: bool) -> OneTripCursor:
        trip: _Trip = self._conn._execute
        self._description, self._rows, self._rowcount, self._lastrowid = await trip(
            _run, self._conn._conn, sql, parameters, many
        )
        self._next = 0
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        """Execute ``sql`` and keep its rows."""
        return await self._answer(sql, [] if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        """Execute ``sql`` once per parameter set."""
        return await self._answer(sql, parameters, True)

    async def executescript(self, sql_script: str) -> OneTripCursor:
        """Run a script (no rows)."""
        trip: _Trip = self._conn._execute
        await trip(self._conn._conn.executescript, sql_script)
        self._description, self._rows, self._next = None, [], 0
        return self

    def _take(self, size: int | None) -> list[Any]:
        end = len(self._rows) if size is None else self._next + size
        taken = self._rows[self._next : end]
        self._next += len(taken)
        return taken

    async def fetchone(self) -> Any:
        """The next kept row, or None."""
        taken = self._take(1)
        return taken[0] if taken else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        """Up to ``size`` (default ``arraysize``) kept rows."""
        return self._take(self._arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        """Every kept row not fetched yet."""
        return self._take(None)

    async def close(self) -> None:
        """Nothing to close: the sqlite3 cursor closed in its trip."""
        self._rows, self._next = [], 0

    @property
    def rowcount(self) -> int:
        """The executed statement's row count."""
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        """The executed statement's last row id."""
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        """The default ``fetchmany`` size."""
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        """The executed statement's column description."""
        return self._description

    @property
    def connection(self) -> sqlite3.Connection:
        """The sqlite3 connection (not to be used from the event loop's thread)."""
        return self._conn._conn


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement."""

    async def run(
        self, sql: str, parameters: Any, *, many: bool = False, commit: bool = False
    ) -> tuple[list[Any], int]:
        """Execute ``sql`` in one trip (committing its transaction with ``commit``): its rows and
        row count. For :mod:`core.storage.direct`, which runs statements without a cursor object."""
        trip: _Trip = self._execute
        _, rows, count, _ = await trip(_run, self._conn, sql, parameters, many, commit)
        return rows, count

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        """A cursor without a trip to the thread (its statements make the trips)."""
        return OneTripCursor(self)


def connect(database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> OneTripConnection:
    """As :func:`aiosqlite.connect`, with :class:`OneTripConnection`."""
    location = database.decode() if isinstance(database, bytes) else str(database)

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(location, **kwargs)
        return connection

    return OneTripConnection(connector, iter_chunk_size)
