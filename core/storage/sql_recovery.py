"""Crash-safety queries of :class:`core.storage.sql_store.SqlStore`: job steps, kept results,
recorded deliveries, claims and hand-backs of interrupted jobs, and the update inbox.

Invariants, on top of those of ``sql_store``:
- a stale job is taken over by one conditional UPDATE (unfinished, heartbeat older than the
  cutoff), so of several processes sweeping at once exactly one claims it;
- a released (handed-back) job's heartbeat is the epoch, so the next process claims it at once;
- the kept images of a job are deleted in the transaction that finishes the job (``SqlStore``);
- fencing (issue 14): every claim, takeover or queued->running bumps ``jobs.claims``; a worker's
  writes given its ``claim`` (the token it got) match only while the count is unchanged and the
  job unfinished, and raise :class:`LeaseLost` otherwise, so a worker that stalled past its lease
  cannot record anything over the worker that took the job over;
- an inbox row is inserted once (``ON CONFLICT DO NOTHING``): a redelivered update is recognised;
  handled rows are kept a day for that, then deleted by the next sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import DeliveredPart
from core.storage import tables
from core.storage.direct import Direct, Prepared, Row
from core.storage.protocol import CallStart, Job, JobStage, JobStatus, LeaseLost, StoredUpdate

UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
"""``jobs.status`` values of jobs that can still change."""

# A released job's heartbeat: older than any cutoff, so the next process claims it at once.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How long a handled update is remembered, to skip a redelivery of it.
_INBOX_KEEP = timedelta(days=1)

_jobs = tables.jobs
_results = tables.job_results
_inbox = tables.inbox
_UNFINISHED = UNFINISHED


def held(
    job_id: str | sa.BindParameter[Any], claim: int | sa.BindParameter[Any] | None
) -> sa.ColumnElement[bool]:
    """The job's row, and (given a fencing token) only while it is unfinished and not claimed since;
    values, or bound parameters for a statement built once (:class:`FencedUpdate`)."""
    if claim is None:
        return _jobs.c.id == job_id
    return sa.and_(_jobs.c.id == job_id, _jobs.c.claims == claim, _jobs.c.status.in_(_UNFINISHED))


class FencedUpdate:
    """An UPDATE of one job under :func:`held`, raising :class:`LeaseLost` when a fencing token no
    longer matches. Built once for each shape (with and without a token) and run on the driver
    (:mod:`core.storage.direct`): ``values`` are its SET clause, constants or
    :func:`sqlalchemy.bindparam` (named unlike any column)."""

    def __init__(
        self, *, returning: Sequence[sa.Column[Any]] = (_jobs.c.id,), unfinished: bool = False, **values: Any
    ) -> None:
        job: sa.BindParameter[Any] = sa.bindparam("held_job")
        # ``unfinished``: only a job not finished yet, with a fencing token or without.
        bare = sa.and_(held(job, None), _jobs.c.status.in_(_UNFINISHED)) if unfinished else held(job, None)
        unclaimed = held(job, sa.bindparam("held_claim"))
        self._statements = {
            fenced: Prepared(
                sa.update(_jobs).where(unclaimed if fenced else bare).values(**values).returning(*returning)
            )
            for fenced in (False, True)
        }

    async def run(self, direct: Direct, job_id: str, claim: int | None, **params: Any) -> None:
        """Update the job (given ``params`` for the bound values); :class:`LeaseLost` when ``claim``
        is no longer held."""
        row = await self.first(direct, job_id, claim, **params)
        if claim is not None and row is None:
            raise LeaseLost(f"claim {claim} is no longer held")

    async def first(self, direct: Direct, job_id: str, claim: int | None, **params: Any) -> Row | None:
        """Update the job; its ``returning`` columns, or None when no row matched."""
        if claim is None:
            return await direct.first(self._statements[False], held_job=job_id, **params)
        return await direct.first(self._statements[True], held_job=job_id, held_claim=claim, **params)


_ANSWERED = FencedUpdate(
    stage=JobStage.ANSWERED.value,
    usage_tokens=sa.bindparam("new_tokens"),
    estimated_cost=sa.bindparam("new_cost"),
)
_STATUS_MESSAGE = FencedUpdate(status_message=sa.bindparam("new_status"))
_RENEWED = FencedUpdate(heartbeat_at=sa.bindparam("new_heartbeat", type_=_jobs.c.heartbeat_at.type))
_DELIVERING = FencedUpdate(
    delivery=sa.bindparam("new_delivery", type_=_jobs.c.delivery.type), stage=JobStage.DELIVERING.value
)
_DELIVERY_SO_FAR = Prepared(sa.select(_jobs.c.delivery).where(_jobs.c.id == sa.bindparam("job_id")))
_RESULT_KEPT = Prepared(sa.insert(_results))


# The most call starts (inbox rows) one statement records: a bigger batch takes several, and one
# statement is built for each batch size up to it.
_AT_ONCE = 16


@functools.cache
def _calls_started(calls: int) -> Prepared:
    """Stage CALLING and one more attempt for ``calls`` jobs (``job0``…), each still held under its
    ``claim0``… (None: not fenced), its status message set to ``status0``… when not None."""
    c = _jobs.c
    held_ones: list[sa.ColumnElement[bool]] = []
    shown: list[tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]] = []
    for i in range(calls):
        job: sa.BindParameter[str] = sa.bindparam(f"job{i}", type_=sa.String)
        claim: sa.BindParameter[int] = sa.bindparam(f"claim{i}", type_=sa.Integer)
        status: sa.BindParameter[str] = sa.bindparam(f"status{i}", type_=sa.String)
        held_ones.append(sa.and_(c.id == job, sa.or_(claim.is_(None), c.claims == claim)))
        shown.append((c.id == job, sa.func.coalesce(status, c.status_message)))
    return Prepared(
        sa.update(_jobs)
        .where(sa.or_(*held_ones), c.status.in_(_UNFINISHED))
        .values(
            stage=JobStage.CALLING.value,
            attempts=c.attempts + 1,
            status_message=sa.case(*shown, else_=c.status_message),
        )
        .returning(c.id, c.attempts)
    )


@functools.cache
def _inbox_put(count: int) -> Prepared:
    """``count`` updates (``new_platform0``, ``new_update_id0``, ``new_payload0``, …) stored unless
    known, with one ``new_claimed_at`` and ``new_worker_id``; the ids of those stored."""
    c = _inbox.c
    given = ("platform", "update_id", "payload", "conversation", "media_group")
    shared = {
        "claimed_at": sa.bindparam("new_claimed_at", type_=c.claimed_at.type),
        "worker_id": sa.bindparam("new_worker_id", type_=c.worker_id.type),
    }
    rows = [
        {name: sa.bindparam(f"new_{name}{i}", type_=c[name].type) for name in given} | shared
        for i in range(count)
    ]
    return Prepared(
        lambda dialect: (
            insert_for(dialect, _inbox).values(rows).on_conflict_do_nothing().returning(c.update_id)
        )
    )


@functools.cache
def _inbox_done(count: int) -> Prepared:
    """``count`` updates (``id0``, …) of ``held_platform`` marked handled at ``new_handled``."""
    c = _inbox.c
    return Prepared(
        sa.update(_inbox)
        .where(
            c.platform == sa.bindparam("held_platform"),
            c.update_id.in_([sa.bindparam(f"id{i}") for i in range(count)]),
        )
        .values(handled_at=sa.bindparam("new_handled", type_=c.handled_at.type))
    )


def insert_for(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``ON CONFLICT`` on the database of that dialect name."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"SqlStore supports sqlite and postgresql, not {dialect}")


def upsert(session: AsyncSession, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``ON CONFLICT`` on the session's database."""
    return insert_for(session.get_bind().dialect.name, table)


class RecoveryQueries:
    """The crash-safety part of ``SqlStore`` (which provides the transactions and the clock)."""

    _clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def _write(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _write_one(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _read(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _lone_write(self) -> AbstractAsyncContextManager[Direct]: ...

        def _transaction(self, *, read_first: bool = False) -> AbstractAsyncContextManager[Direct]: ...

        async def _job_where(
            self, session: AsyncSession, condition: sa.ColumnElement[bool]
        ) -> Job | None: ...

    async def start_call(self, job_id: str, worker_id: str, *, claim: int | None = None) -> int:
        """Stage CALLING, one more attempt counted (before the paid call); the attempts so far."""
        attempts = (await self.start_calls([CallStart(job_id, claim)])).get(job_id)
        if attempts is None and claim is not None:
            raise LeaseLost(f"claim {claim} is no longer held")
        return int(attempts or 0)

    async def start_calls(self, calls: Sequence[CallStart]) -> dict[str, int]:
        """:meth:`start_call` for several jobs at once, in one statement, with their status
        message ids; the attempts so far of each job still held."""
        if not calls:
            return {}
        started: dict[str, int] = {}
        async with self._lone_write() as direct:
            for at in range(0, len(calls), _AT_ONCE):
                chunk = calls[at : at + _AT_ONCE]
                params: dict[str, Any] = {}
                for i, call in enumerate(chunk):
                    params[f"job{i}"], params[f"claim{i}"] = call.job_id, call.claim
                    params[f"status{i}"] = call.status_message
                for row in await direct.rows(_calls_started(len(chunk)), **params):
                    started[str(row["id"])] = int(row["attempts"])
        return started

    async def renew(self, job_id: str, claim: int) -> None:
        """Refresh the lease of a job still held under ``claim``, else raise :class:`LeaseLost`."""
        async with self._lone_write() as direct:
            await _RENEWED.run(direct, job_id, claim, new_heartbeat=self._clock())

    async def save_result(
        self,
        job_id: str,
        images: Sequence[bytes],
        *,
        usage_tokens: int | None,
        estimated_cost: float | None,
        claim: int | None = None,
    ) -> None:
        """Keep the API's images with the job (stage ANSWERED) until the job finishes."""
        # No earlier images to remove: they are stored with the stage in one transaction, and a
        # job whose images are stored is delivered from them, never asked again. The fenced
        # UPDATE goes first: a stale worker's images are never stored.
        async with self._transaction() as direct:
            await _ANSWERED.run(direct, job_id, claim, new_tokens=usage_tokens, new_cost=estimated_cost)
            await direct.executemany(
                _RESULT_KEPT, [{"job_id": job_id, "idx": i, "data": d} for i, d in enumerate(images)]
            )

    async def job_result(self, job_id: str) -> list[bytes]:
        """The images kept by :meth:`save_result` (empty when none, or once the job finished:
        its images wait only for :meth:`drop_finished_results`)."""
        query = (
            sa.select(_results.c.data)
            .join(_jobs, _jobs.c.id == _results.c.job_id)
            .where(_results.c.job_id == job_id, _jobs.c.status.in_(UNFINISHED))
            .order_by(_results.c.idx)
        )
        async with self._read() as session:
            return [bytes(data) for data in (await session.execute(query)).scalars()]

    async def drop_finished_results(self) -> int:
        """Delete the images kept for jobs that have finished; how many were deleted."""
        finished = sa.exists().where(_jobs.c.id == _results.c.job_id, _jobs.c.status.not_in(UNFINISHED))
        async with self._write_one() as session:
            result = await session.execute(sa.delete(_results).where(finished))
        return int(getattr(result, "rowcount", 0) or 0)

    async def record_delivery(
        self,
        job_id: str,
        part: DeliveredPart,
        *,
        before: Sequence[DeliveredPart] | None = None,
        claim: int | None = None,
    ) -> None:
        """Add one sent message of the result to ``Job.delivery`` (stage DELIVERING).

        Read-then-write (or writing the owner's ``before`` list) is safe here: only the worker
        that owns the job delivers it.
        """
        async with self._transaction(read_first=before is None) as direct:
            if before is None:
                found = await direct.first(_DELIVERY_SO_FAR, job_id=job_id)
                current = found["delivery"] if found else None
            else:
                current = [p.to_json() for p in before]
            parts = [*(current or []), part.to_json()]
            await _DELIVERING.run(direct, job_id, claim, new_delivery=parts)

    async def set_status_message(
        self, job_id: str, message_id: str | None, *, claim: int | None = None
    ) -> None:
        """Remember (or with None forget) the job's progress message."""
        async with self._lone_write() as direct:
            await _STATUS_MESSAGE.run(direct, job_id, claim, new_status=message_id)

    async def claim(self, job_id: str, worker_id: str, heartbeat_before: datetime) -> Job | None:
        """Take over an unfinished job not heard from since ``heartbeat_before`` (one UPDATE)."""
        now = self._clock()
        async with self._write() as session:
            result = await session.execute(
                sa.update(_jobs)
                .where(
                    _jobs.c.id == job_id,
                    _jobs.c.status.in_(_UNFINISHED),
                    _jobs.c.heartbeat_at < heartbeat_before,
                )
                .values(
                    status=JobStatus.RUNNING.value,
                    worker_id=worker_id,
                    heartbeat_at=now,
                    claims=_jobs.c.claims + 1,
                )
                .returning(_jobs.c.id)
            )
            if result.first() is None:
                return None
            return await self._job_where(session, _jobs.c.id == job_id)

    async def release(self, job_id: str, worker_id: str) -> None:
        """Hand an unfinished job back: no worker, and a heartbeat that is stale at once."""
        async with self._write_one() as session:
            await session.execute(
                sa.update(_jobs)
                .where(_jobs.c.id == job_id, _jobs.c.worker_id == worker_id, _jobs.c.status.in_(_UNFINISHED))
                .values(worker_id=None, heartbeat_at=_EPOCH)
            )

    async def inbox_put(self, updates: Sequence[StoredUpdate], worker_id: str) -> set[str]:
        """Store updates before their receipt is confirmed, in one transaction; the ids of those
        not stored already."""
        if not updates:
            return set()
        claimed_at = self._clock()
        stored: set[str] = set()
        async with self._transaction() as direct:
            for at in range(0, len(updates), _AT_ONCE):
                chunk = updates[at : at + _AT_ONCE]
                params: dict[str, Any] = {"new_claimed_at": claimed_at, "new_worker_id": worker_id}
                for i, update in enumerate(chunk):
                    params[f"new_platform{i}"] = update.platform
                    params[f"new_update_id{i}"] = update.update_id
                    params[f"new_payload{i}"] = dict(update.payload)
                    params[f"new_conversation{i}"] = update.conversation
                    params[f"new_media_group{i}"] = update.media_group
                inserted = await direct.rows(_inbox_put(len(chunk)), **params)
                stored.update(row["update_id"] for row in inserted)
        return stored

    async def inbox_done(self, platform: str, update_ids: Sequence[str]) -> None:
        """Mark updates handled, in one statement (kept a day, so a redelivery is skipped)."""
        if not update_ids:
            return
        handled_at = self._clock()
        async with self._lone_write() as direct:
            for at in range(0, len(update_ids), _AT_ONCE):
                chunk = update_ids[at : at + _AT_ONCE]
                params = {f"id{i}": update_id for i, update_id in enumerate(chunk)}
                await direct.execute(
                    _inbox_done(len(chunk)), held_platform=platform, new_handled=handled_at, **params
                )

    async def inbox_claim(
        self, platform: str, claimed_before: datetime, worker_id: str
    ) -> list[StoredUpdate]:
        """Take over unhandled updates another worker claimed before ``claimed_before``, oldest first."""
        now = self._clock()
        async with self._write() as session:
            await session.execute(sa.delete(_inbox).where(_inbox.c.handled_at < now - _INBOX_KEEP))
            result = await session.execute(
                sa.update(_inbox)
                .where(
                    _inbox.c.platform == platform,
                    _inbox.c.handled_at.is_(None),
                    _inbox.c.claimed_at < claimed_before,
                    sa.or_(_inbox.c.worker_id.is_(None), _inbox.c.worker_id != worker_id),
                )
                .values(claimed_at=now, worker_id=worker_id)
                .returning(_inbox.c.update_id, _inbox.c.payload)
            )
            found = [StoredUpdate(platform, row.update_id, dict(row.payload)) for row in result]
        # Oldest first: Telegram's update ids grow with time.
        return sorted(found, key=lambda u: (len(u.update_id), u.update_id))
