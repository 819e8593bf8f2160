"""Reserving a job on PostgreSQL in one round trip (issue 11): the job row and every counter in one
statement, run in autocommit, so a hot counter (the bot-wide one) is locked only while that
statement runs on the server, not across the client's round trips of a transaction.

Invariants, the same as :meth:`core.storage.sql_store.SqlStore.create_job`'s:
- the job is inserted ``ON CONFLICT (idempotency_key) DO NOTHING``; when it already exists no
  counter is touched (the caller reads the existing job);
- every counter is charged by one ``INSERT … ON CONFLICT DO UPDATE … WHERE used + credits <=
  limit + bonus``, rows in lock order (the order given), each checked against its newest version;
  a missing counter is created charged (callers use this only when ``credits`` fits every limit
  on its own);
- when a counter refuses, the statement fails on purpose (a cast of a marked text to integer, the
  only way plain SQL can raise), so PostgreSQL rolls it back whole: no job, nothing charged. The
  error names the refused counter's place in the order; nothing else raises that error here.

The statement text is built once from :mod:`core.storage.tables` and runs as driver SQL (nothing
compiled per call; the asyncpg adapter prepares it once per connection); values get the column
types' own bind processing, so rows are stored exactly as SQLAlchemy would store them. Under a
burst, reservations hand their connection on (:class:`ConnectionRelay`) instead of each taking
one from the pool, whose liveness check costs more round trips than the reservation.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import QuotaExceeded
from core.storage import tables
from core.storage.direct import Prepared
from core.storage.protocol import QuotaScope

_MARK = "editbot-quota-refused:"
_REFUSED = re.compile(re.escape(_MARK) + r"(\d+)")
# SQLSTATE of a failed cast to integer (invalid_text_representation).
_BAD_INTEGER = "22P02"


def _statement(columns: Sequence[str]) -> str:
    """The statement for a job row of these columns; ``$n+1..``: kinds, keys and limits (arrays in
    lock order), credits, period."""
    n = len(columns)
    return f"""
WITH job AS (
    INSERT INTO jobs ({", ".join(columns)})
    VALUES ({", ".join(f"${i}" for i in range(1, n + 1))})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING 1
), wanted AS (
    SELECT * FROM unnest(${n + 1}::text[], ${n + 2}::text[], ${n + 3}::int[])
        WITH ORDINALITY AS w (kind, key, ceiling, pos)
), charged AS (
    INSERT INTO usage AS u (scope_kind, scope_key, period_start, used)
    SELECT w.kind, w.key, ${n + 5}, ${n + 4} FROM wanted AS w
    WHERE EXISTS (SELECT FROM job)
    ORDER BY w.pos
    ON CONFLICT (scope_kind, scope_key, period_start) DO UPDATE SET used = u.used + excluded.used
    WHERE coalesce(
        u.used + excluded.used
            <= (SELECT w.ceiling FROM wanted AS w WHERE w.kind = u.scope_kind AND w.key = u.scope_key)
            + u.bonus,
        true
    )
    RETURNING u.scope_kind, u.scope_key
), refused AS (
    SELECT min(w.pos) AS pos FROM wanted AS w
    WHERE EXISTS (SELECT FROM job)
        AND NOT EXISTS (SELECT FROM charged AS c WHERE c.scope_kind = w.kind AND c.scope_key = w.key)
)
SELECT
    (SELECT count(*) FROM job) AS created,
    CASE WHEN r.pos IS NOT NULL THEN CAST('{_MARK}' || r.pos AS integer) END AS refused
FROM refused AS r
"""


_COUNTER = "SELECT used, bonus FROM usage WHERE scope_kind = $1 AND scope_key = $2 AND period_start = $3"


def exceeded(scope: QuotaScope, counter: Any) -> QuotaExceeded:
    """The refusal of ``scope``, given its counter's ``(used, bonus)`` (None: no counter yet)."""
    used, bonus = (int(counter[0]), int(counter[1])) if counter is not None else (0, 0)
    return QuotaExceeded(
        f"{scope.kind} quota exhausted", scope=scope.kind, used=used, limit=max(0, (scope.limit or 0) + bonus)
    )


def _refused_scope(error: BaseException | None, ordered: Sequence[QuotaScope]) -> QuotaScope | None:
    """The counter whose refusal made the statement fail (``error`` is the driver's), or None for
    any other error."""
    if getattr(error, "sqlstate", None) != _BAD_INTEGER:
        return None
    found = _REFUSED.search(str(error))
    return ordered[int(found.group(1)) - 1] if found else None


def charge_statement(
    ordered: Sequence[QuotaScope], credits: int, period: datetime
) -> tuple[Prepared, dict[str, Any]]:
    """The transaction path's charge of every counter (``SqlStore._reserve_all``), and its values.

    ``INSERT … VALUES (one row per counter, in lock order) ON CONFLICT DO UPDATE SET used = used +
    credits WHERE used + credits <= limit + bonus RETURNING`` the counters charged. Text, one per
    shape (how many counters, which have a limit): SQLAlchemy cannot cache the compiled form of
    its own ``ON CONFLICT DO UPDATE … WHERE`` construct, and compiling it was most of a SQLite
    reservation's time.
    """
    params: dict[str, Any] = {"credits": credits, "period": period}
    for i, scope in enumerate(ordered):
        params[f"k{i}"], params[f"s{i}"] = scope.kind, scope.key
        if scope.limit is not None:
            params[f"l{i}"] = scope.limit
    return _charge(tuple(s.limit is not None for s in ordered)), params


@functools.cache
def _charge(limited: tuple[bool, ...]) -> Prepared:
    values = ", ".join(f"(:k{i}, :s{i}, :period, :credits)" for i in range(len(limited)))
    checks = " ".join(
        f"WHEN usage.scope_kind = :k{i} AND usage.scope_key = :s{i}"
        f" THEN usage.used + excluded.used <= :l{i} + usage.bonus"
        for i, has_limit in enumerate(limited)
        if has_limit
    )
    where = f" WHERE CASE {checks} ELSE TRUE END" if checks else ""
    return Prepared(
        sa.text(
            f"INSERT INTO usage (scope_kind, scope_key, period_start, used) VALUES {values}"
            " ON CONFLICT (scope_kind, scope_key, period_start)"
            f" DO UPDATE SET used = usage.used + excluded.used{where}"
            " RETURNING scope_kind, scope_key"
        )
        .bindparams(sa.bindparam("period", type_=tables.usage.c.period_start.type))
        .columns(tables.usage.c.scope_kind, tables.usage.c.scope_key)
    )


class PgReservation:
    """The statement and the bind processing of its values for one dialect (one per store)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # Per set of job columns (always the same one, from ``rows.job_values``): the statement,
        # and each column's bind processor (None: the value goes to the driver as it is).
        self._shapes: dict[tuple[str, ...], tuple[str, list[Callable[[Any], Any] | None]]] = {}
        self._period = self._processor(tables.usage.c.period_start)

    def _processor(self, column: sa.Column[Any]) -> Callable[[Any], Any] | None:
        return column.type.dialect_impl(self._dialect).bind_processor(self._dialect)

    async def create(
        self,
        connection: AsyncConnection,
        job_values: dict[str, Any],
        ordered: Sequence[QuotaScope],
        credits: int,
        period: datetime,
    ) -> bool | QuotaExceeded:
        """Insert the job and charge every counter on ``connection`` (in autocommit): True, or
        False when the idempotency key exists (nothing charged), or the refusal of the first
        counter that refused (nothing inserted or charged), to raise."""
        columns = tuple(job_values)
        shape = self._shapes.get(columns)
        if shape is None:
            processors = [self._processor(tables.jobs.c[name]) for name in columns]
            shape = self._shapes[columns] = (_statement(columns), processors)
        statement, processors = shape
        when = period if self._period is None else self._period(period)
        args = [
            value if process is None else process(value)
            for value, process in zip(job_values.values(), processors, strict=True)
        ]
        args += (
            [s.kind for s in ordered],
            [s.key for s in ordered],
            [s.limit for s in ordered],
            credits,
            when,
        )
        try:
            return bool((await connection.exec_driver_sql(statement, tuple(args))).scalar_one())
        except sa.exc.DBAPIError as exc:  # only the refusal is expected; anything else goes up as it is
            refused = _refused_scope(exc.orig, ordered)
            if refused is None:
                raise
        # Read why it refused, on the same connection (the decision was the statement's).
        counter = await connection.exec_driver_sql(_COUNTER, (refused.kind, refused.key, when))
        return exceeded(refused, counter.first())


class ConnectionRelay:
    """Connections for reservations, handed from one reservation to the next while any wait.

    Taking a connection from the pool costs a liveness check first (``pool_pre_ping``: three round
    trips on asyncpg outside autocommit), more than the reservation itself. Under a burst, a
    finished reservation hands its connection to the next waiting one instead; it goes back to the
    pool once nobody waits. At most ``width`` connections are held this way (FIFO beyond that); a
    connection whose work failed unexpectedly is never handed on.
    """

    def __init__(self, engine: AsyncEngine, width: int) -> None:
        self._engine = engine
        self._width = width
        self._held = 0
        # Each waiter gets a connection handed on, or None: a free place, open one yourself.
        self._waiters: deque[asyncio.Future[AsyncConnection | None]] = deque()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one reservation (the block must leave it outside any transaction)."""
        connection = await self._take()
        if connection is None:
            try:
                connection = await self._engine.connect()
            except BaseException:
                self._pass_on(None)
                raise
            try:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            except BaseException:
                self._pass_on(None)
                await connection.close()
                raise
        try:
            yield connection
        except BaseException:
            self._pass_on(None)
            await connection.close()
            raise
        if not self._pass_on(connection):
            await connection.close()

    async def _take(self) -> AsyncConnection | None:
        if self._held < self._width and not self._waiters:
            self._held += 1
            return None
        waiter: asyncio.Future[AsyncConnection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as it was cancelled
                handed = waiter.result()
                if not self._pass_on(handed) and handed is not None:
                    await handed.close()
            raise

    def _pass_on(self, connection: AsyncConnection | None) -> bool:
        """Hand ``connection`` (or the free place) to the first waiter; False when none waits, and
        then the place is given up (the caller closes the connection)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter gives its turn away
                waiter.set_result(connection)
                return True
        self._held -= 1
        return False
