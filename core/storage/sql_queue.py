"""The job queue on PostgreSQL: the ``jobs`` table is the queue (issue 14), as in Oban and GoodJob.

Invariants:
- there is no second source of truth: a waiting job is a row with status ``queued``, or a
  ``running`` row whose heartbeat (the lease) is older than the cutoff (its worker died, or
  handed it back on a stop); claiming one is ``SELECT ... FOR UPDATE SKIP LOCKED`` plus an
  UPDATE to ``running`` for this worker in the same transaction, so of many workers claiming at
  once each job goes to exactly one, and none waits on another's locks;
- fair across lanes: a lane is a community (a Telegram group, a Discord server), or one user's
  private chat. Jobs are taken in turns (round-robin): every lane's first waiting job before any
  lane's second, where jobs already running count as earlier turns of their lane, and among equal
  turns the lane served longest ago goes first; so one busy server cannot starve the others.
  Within a lane (and so within a user) jobs go oldest first (FIFO);
- a job's queue position is computed from the same ordering, so every process shows the same
  number, whichever of them runs the job; ``jobs.shown_position`` is the number its status
  message shows. When the queue moves, :meth:`SqlQueue.moved` sets it to the new one for the jobs
  whose number changed and returns them, one process at a time (an advisory lock), so each
  change is edited into the message by exactly one process, never with an older number;
- a new job wakes the workers with ``NOTIFY editbot_jobs`` (payload: the schema, so test schemas
  sharing a server ignore each other); workers also poll, so a lost notification only delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import utcnow as _utcnow
from core.queue import Moved
from core.storage import rows, tables
from core.storage.protocol import Job, JobStatus

log = logging.getLogger(__name__)

CHANNEL = "editbot_jobs"
"""The LISTEN/NOTIFY channel new jobs are announced on."""

_jobs = tables.jobs
SERVED_WINDOW = timedelta(hours=1)
"""How far back a lane's last served job counts for its place in the turns."""

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value
_MOVES_LOCK = 0x6564_6974_706F_73  # pg_advisory_xact_lock key serialising position refreshes
_SHOW_LOCKS = 0x6564_6974  # the first half of the two-part key that serialises one job's place shown


def _lane() -> sa.ColumnElement[str]:
    """A job's fairness lane: its community, else its user (a private chat)."""
    return sa.func.coalesce(
        _jobs.c.platform + ":" + _jobs.c.community_id, _jobs.c.platform + ":u:" + _jobs.c.user_id
    )


def _waiting(stale_before: datetime) -> sa.ColumnElement[bool]:
    """Jobs a worker may claim: queued, or running with an expired lease."""
    return sa.or_(
        _jobs.c.status == _QUEUED,
        sa.and_(_jobs.c.status == _RUNNING, _jobs.c.heartbeat_at < stale_before),
    )


def _order(stale_before: datetime, served_since: datetime) -> sa.CTE:
    """Every waiting job with its rank: the order workers take them in (1 = next).

    By turn in its lane first (a lane's running jobs hold its first turns), then the lane served
    longest ago (never first), then age.
    """
    lane = _lane()
    waiting = _waiting(stale_before)
    live_first = sa.case((waiting, 1), else_=0)
    turns = (
        sa.select(
            _jobs.c.id,
            _jobs.c.created_at,
            lane.label("lane"),
            waiting.label("waiting"),
            sa.func.row_number()
            .over(partition_by=lane, order_by=(live_first, _jobs.c.created_at, _jobs.c.id))
            .label("turn"),
        )
        .where(_jobs.c.status.in_((_QUEUED, _RUNNING)))
        .cte("turns")
    )
    served = (
        sa.select(lane.label("lane"), sa.func.max(_jobs.c.started_at).label("last_served"))
        .where(_jobs.c.created_at >= served_since, _jobs.c.started_at.is_not(None))
        .group_by(lane)
        .cte("served")
    )
    rank = sa.func.row_number().over(
        order_by=(
            turns.c.turn,
            served.c.last_served.asc().nulls_first(),
            turns.c.created_at,
            turns.c.id,
        )
    )
    return (
        sa.select(turns.c.id, rank.label("rank"))
        .select_from(turns.outerjoin(served, served.c.lane == turns.c.lane))
        .where(turns.c.waiting)
        .cte("queue_order")
    )


class SqlQueue:
    """Claims, positions and wake-ups of queued jobs (PostgreSQL only)."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the shared job queue needs PostgreSQL")
        self._engine = engine
        self._sessions = sessions
        self._clock = clock

    async def claim(self, worker_id: str, limit: int, stale_before: datetime) -> list[tuple[Job, str | None]]:
        """Take up to ``limit`` waiting jobs in fair order for ``worker_id``.

        Returns each claimed job (now RUNNING for this worker) with the worker that held it before
        (None for a job never started, or handed back).
        """
        if limit <= 0:
            return []
        now = self._clock()
        order = _order(stale_before, now - SERVED_WINDOW)
        pick = (
            sa.select(_jobs.c.id, _jobs.c.worker_id)
            .join(order, order.c.id == _jobs.c.id)
            .where(_waiting(stale_before))
            .order_by(order.c.rank)
            .limit(limit)
            .with_for_update(skip_locked=True, of=_jobs)
        )
        async with self._sessions() as session, session.begin():
            picked = (await session.execute(pick)).all()
            if not picked:
                return []
            before = {row.id: row.worker_id for row in picked}
            result = await session.execute(
                sa.update(_jobs)
                .where(_jobs.c.id.in_(list(before)))
                .values(
                    status=_RUNNING,
                    worker_id=worker_id,
                    heartbeat_at=now,
                    started_at=sa.func.coalesce(_jobs.c.started_at, now),
                    claims=_jobs.c.claims + 1,  # the new fencing token
                )
                .returning(*_jobs.c)
            )
            claimed = {row["id"]: rows.job_from_row(row) for row in result.mappings()}
        # In the order they were picked (fair order), so they start in it.
        return [(claimed[row.id], before[row.id]) for row in picked if row.id in claimed]

    async def position(self, job_id: str, stale_before: datetime) -> int | None:
        """The job's place in the queue (1 = next), or None when it is not waiting; remembered
        as the position its status message shows (the caller shows it)."""
        order = _order(stale_before, self._clock() - SERVED_WINDOW)
        query = (
            sa.update(_jobs)
            .where(_jobs.c.id == job_id, _jobs.c.id == order.c.id)
            .values(shown_position=order.c.rank)
            .returning(order.c.rank)
            .add_cte(order)
        )
        async with self._sessions() as session, session.begin():
            rank = (await session.execute(query)).scalar()
        return None if rank is None else int(rank)

    async def moved(self, stale_before: datetime) -> list[Moved]:
        """Waiting jobs whose place in line changed since their status message showed it, now
        recorded as shown (the caller edits the messages); in queue order."""
        order = _order(stale_before, self._clock() - SERVED_WINDOW)
        query = (
            sa.update(_jobs)
            .where(
                _jobs.c.id == order.c.id,
                _jobs.c.status == _QUEUED,
                _jobs.c.status_message.is_not(None),
                _jobs.c.shown_position.is_distinct_from(order.c.rank),
            )
            .values(shown_position=order.c.rank)
            .returning(_jobs.c.id, _jobs.c.origin, _jobs.c.status_message, order.c.rank)
            .add_cte(order)
        )
        async with self._sessions() as session, session.begin():
            # One refresh at a time, each reading what the one before committed: a slower
            # process can never write (and show) an older number over a newer one.
            await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_MOVES_LOCK)))
            found = (await session.execute(query)).all()
        return sorted(
            (Moved(row.id, dict(row.origin or {}), str(row.status_message), int(row.rank)) for row in found),
            key=lambda m: m.position,
        )

    @asynccontextmanager
    async def showing(self, job_id: str, position: int) -> AsyncIterator[bool]:
        """While open, no other process shows this job's place in line; yields whether ``position``
        is still the one to show (the job waits, and no newer number was recorded since).

        Two processes may each hold a change of the same job's place (one refresh, then the next);
        sent at once, the older number could reach the chat last. Shown under this lock, the
        older one is either sent before the newer one is checked, or found stale and dropped.
        """
        key = sa.func.pg_advisory_xact_lock(_SHOW_LOCKS, sa.func.hashtext(job_id))
        query = sa.select(_jobs.c.shown_position).where(_jobs.c.id == job_id, _jobs.c.status == _QUEUED)
        async with self._sessions() as session, session.begin():
            await session.execute(sa.select(key))
            yield (await session.execute(query)).scalar() == position

    async def waiting(self, stale_before: datetime) -> int:
        """How many jobs wait for a worker (metrics, benchmarks)."""
        query = sa.select(sa.func.count()).select_from(_jobs).where(_waiting(stale_before))
        async with self._sessions() as session, session.begin():
            return int((await session.execute(query)).scalar() or 0)

    async def notify(self) -> None:
        """Wake the workers listening on this database schema."""
        async with self._sessions() as session, session.begin():
            await session.execute(sa.select(sa.func.pg_notify(CHANNEL, sa.func.current_schema())))

    @asynccontextmanager
    async def listening(self, wake: asyncio.Event) -> AsyncIterator[None]:
        """Set ``wake`` on every new job while the context is open (reconnecting as needed).

        LISTEN needs one connection held for as long as it listens: a raw asyncpg connection
        taken from the engine's pool, with ``add_listener``.
        """
        task = asyncio.create_task(self._listen(wake), name="job-queue-listener")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, wake: asyncio.Event) -> None:
        while True:
            try:
                await self._listen_once(wake)
                log.warning("the job queue's LISTEN connection closed; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cannot LISTEN for new jobs; polling meanwhile", exc_info=True)
                await asyncio.sleep(1.0)

    async def _listen_once(self, wake: asyncio.Event) -> None:
        """Listen on one connection until it closes."""
        async with self._engine.connect() as connection:
            schema = (await connection.execute(sa.select(sa.func.current_schema()))).scalar()
            await connection.commit()
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            lost = asyncio.Event()

            def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
                if payload == schema:
                    wake.set()

            def on_close(_conn: Any) -> None:
                lost.set()

            await driver.add_listener(CHANNEL, on_notify)
            driver.add_termination_listener(on_close)
            wake.set()  # anything enqueued while not listening is claimed now
            try:
                await lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    await driver.remove_listener(CHANNEL, on_notify)
