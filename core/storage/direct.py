"""The statements every edit runs, executed on the driver's own connection (issue 11: CPU per edit).

Through SQLAlchemy's session a prebuilt statement still cost ~450-500 µs of the event loop's time
(session and transaction bookkeeping, execution context, result wrapping, greenlet switches),
against ~130 µs for the driver call itself; at ~9 statements an edit that was a third of a bot's
CPU under a burst. A :class:`Prepared` statement is compiled and expanded by SQLAlchemy once per
database, binds its values with the column types' own processors and converts its rows with their
own result processors, so rows are stored and read exactly as through SQLAlchemy; only the
execution is the driver's.

Invariants:
- a :class:`Direct` connection comes from the engine's pool and goes back to it; on any exception
  (cancellation included) its transaction is rolled back first, and a connection that cannot
  even roll back is discarded, so nothing leaves a transaction (or SQLite's write lock) open;
- transactions behave as :mod:`core.storage.db` describes: a lone statement is its own transaction;
  a write transaction whose first statement writes begins with it on SQLite (the sqlite3 driver's
  ``IMMEDIATE`` mode), one that reads first begins with ``BEGIN IMMEDIATE``; PostgreSQL runs in
  READ COMMITTED as the session does;
- SQLAlchemy's ``before_cursor_execute`` listeners on the engine hear every statement run here,
  so statement counts (the budget test, the benchmarks) include them;
- only statements whose expanding parameters are constants (``status IN (…)`` of a fixed tuple)
  are taken: their expansion is part of what is prepared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

Processor = Callable[[Any], Any]
Row = dict[str, Any]


@dataclass(slots=True)
class _Plan:
    """One statement for one database: its SQL, where each positional value comes from (a caller's
    parameter, or a constant) with its bind processor, and its result columns with theirs (None
    until known: on PostgreSQL some depend on the type the server answers with)."""

    sql: str
    arguments: tuple[tuple[str | None, Any, Processor | None], ...]
    columns: tuple[sa.ColumnElement[Any], ...]
    keys: tuple[str, ...]
    results: tuple[Processor | None, ...] | None = None

    def resolve(self, dialect: Dialect, coltypes: Sequence[Any] | None) -> tuple[Processor | None, ...]:
        """The result processors, given the driver's column types (SQLite: none needed)."""
        kinds = coltypes if coltypes is not None else [None] * len(self.columns)
        self.results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, kind)
            for column, kind in zip(self.columns, kinds, strict=True)
        )
        return self.results

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, constant, process in self.arguments:
            value = constant if name is None else params[name]
            values.append(value if process is None or value is None else process(value))
        return values

    def rows(self, raw: Sequence[Sequence[Any]], results: tuple[Processor | None, ...]) -> list[Row]:
        keys = self.keys
        return [
            {
                key: (value if process is None else process(value))
                for key, process, value in zip(keys, results, row, strict=True)
            }
            for row in raw
        ]


class Prepared:
    """A statement built once (values as :func:`sqlalchemy.bindparam`), run through :class:`Direct`;
    or a function of the dialect's name that builds it, once per database."""

    def __init__(self, statement: sa.ClauseElement | Callable[[str], sa.ClauseElement]) -> None:
        # A function of the dialect's name, for statements written differently per database
        # (``INSERT … ON CONFLICT``); built when first run there.
        self._build = statement if callable(statement) else lambda _dialect: statement
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
        """The statement prepared for ``dialect`` (the first call's ``params`` show its shape)."""
        found = self._plans.get(dialect.name)
        if found is None:
            found = self._plans[dialect.name] = self._prepare(dialect, params)
        return found

    def _prepare(self, dialect: Dialect, params: Mapping[str, Any]) -> _Plan:
        # An INSERT without its values takes the columns given (as SQLAlchemy does at execution).
        statement = self._build(dialect.name)
        compiled = statement.compile(dialect=dialect, column_keys=list(params))
        assert isinstance(compiled, SQLCompiler)  # statements, not DDL
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("column defaults computed in Python need SQLAlchemy's execution")
        binds = compiled.binds
        for name, bind in binds.items():
            if bind.expanding and bind.required:
                raise ValueError(f"expanding parameter {name!r} needs its value at execution")
        given = {name for name, bind in binds.items() if bind.required}
        missing = given - set(params)
        if missing:
            raise ValueError(f"values missing for {sorted(missing)}")
        state = compiled.construct_expanded_state(dict(params), escape_names=False)
        # Processors of expanded values come with the expansion; the others with each bind's type.
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in binds.items()
        } | dict(state.processors)
        arguments = tuple(
            (name, None, processors.get(name))
            if name in given
            else (None, state.parameters[name], processors.get(name))
            for name in state.positiontup or ()
        )
        exported = tuple(getattr(statement, "exported_columns", ()))
        plan = _Plan(state.statement, arguments, exported, tuple(column.key for column in exported))
        if dialect.name == "sqlite":
            plan.resolve(dialect, None)
        return plan


class Direct:
    """Statements on one pooled connection's driver (see the module); made by :class:`DirectPool`."""

    def __init__(self, pool: DirectPool, raw: PoolProxiedConnection, *, autocommit: bool) -> None:
        self._pool = pool
        self._driver: Any = raw.driver_connection
        self._sqlite = pool.dialect.name == "sqlite"
        # SQLite: each statement commits in its own trip to the driver's thread.
        self._autocommit = autocommit
        self._transaction: Any = None

    async def rows(self, statement: Prepared, **params: Any) -> list[Row]:
        """Run ``statement``; its rows (RETURNING included) as dicts of column keys."""
        plan, values = self._ready(statement, params)
        if self._sqlite:
            raw, _ = await self._driver.run(plan.sql, values, commit=self._autocommit)
            return plan.rows(raw, plan.results or ())
        results = plan.results
        if results is None:  # the types the server answers with (asyncpg caches the statement)
            attributes = (await self._driver.prepare(plan.sql)).get_attributes()
            results = plan.resolve(self._pool.dialect, [attribute.type.oid for attribute in attributes])
        return plan.rows(await self._driver.fetch(plan.sql, *values), results)

    def _ready(self, statement: Prepared, params: Mapping[str, Any]) -> tuple[_Plan, list[Any]]:
        """The statement's plan and bound values; statement counters told of it."""
        plan = statement.plan(self._pool.dialect, params)
        values = plan.bind(params)
        self._pool.announce(plan.sql, values)
        return plan, values

    async def first(self, statement: Prepared, **params: Any) -> Row | None:
        """The first row of :meth:`rows`, or None."""
        found = await self.rows(statement, **params)
        return found[0] if found else None

    async def execute(self, statement: Prepared, **params: Any) -> int:
        """Run ``statement`` (no rows wanted); how many rows it changed."""
        plan, values = self._ready(statement, params)
        if self._sqlite:
            _, count = await self._driver.run(plan.sql, values, commit=self._autocommit)
            return int(count)
        status = await self._driver.execute(plan.sql, *values)
        tail = str(status).rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run ``statement`` once for each of ``rows``, in one trip."""
        if not rows:
            return
        plan = statement.plan(self._pool.dialect, rows[0])
        values = [plan.bind(row) for row in rows]
        self._pool.announce(plan.sql, values, many=True)
        if self._sqlite:
            await self._driver.run(plan.sql, values, many=True, commit=self._autocommit)
        else:
            await self._driver.executemany(plan.sql, values)

    async def _begin(self, read_first: bool) -> None:
        if self._sqlite:
            if read_first:  # else the driver begins (IMMEDIATE) with the first write
                await self._driver.run("BEGIN IMMEDIATE", [], commit=False)
        else:
            self._transaction = self._driver.transaction()
            await self._transaction.start()

    async def _commit(self) -> None:
        if self._sqlite:
            await self._driver.commit()
        elif self._transaction is not None:
            await self._transaction.commit()
            self._transaction = None

    async def _rollback(self) -> None:
        if self._sqlite:
            await self._driver.rollback()
        elif self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()


class DirectPool:
    """:class:`Direct` connections from an engine's pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._dispatch = engine.sync_engine.dispatch

    def announce(self, sql: str, values: Any, *, many: bool = False) -> None:
        """Tell the engine's ``before_cursor_execute`` listeners (statement counters) of ``sql``."""
        for listener in self._dispatch.before_cursor_execute:  # looked up: listeners come and go
            listener(None, None, sql, values, None, many)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Direct]:
        """A connection whose statements are each their own transaction (a read takes no lock)."""
        async with self._connection(write=False, read_first=False) as direct:
            yield direct

    @asynccontextmanager
    async def write(self, *, read_first: bool = False) -> AsyncIterator[Direct]:
        """A transaction, committed when the block ends and rolled back on any exception; on SQLite
        ``read_first`` takes the write lock before its first statement (see the module)."""
        async with self._connection(write=True, read_first=read_first) as direct:
            yield direct

    @asynccontextmanager
    async def _connection(self, *, write: bool, read_first: bool) -> AsyncIterator[Direct]:
        raw = await self.engine.raw_connection()
        direct = Direct(self, raw, autocommit=not write)
        try:
            if write:
                await direct._begin(read_first)
            yield direct
            if write:
                await direct._commit()
        except BaseException:
            await self._give_back(raw, direct)
            raise
        await greenlet_spawn(raw.close)

    @staticmethod
    async def _give_back(raw: PoolProxiedConnection, direct: Direct) -> None:
        """Return a connection whose work failed: rolled back, or discarded when even that fails."""
        try:
            await direct._rollback()
        except BaseException:
            await greenlet_spawn(raw.invalidate)
            raise
        finally:
            await greenlet_spawn(raw.close)
