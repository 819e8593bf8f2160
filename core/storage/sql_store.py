"""``SqlStore``: :class:`core.storage.protocol.Store` on SQLAlchemy Core, for SQLite and PostgreSQL.

Invariants, on top of those in :mod:`core.storage.protocol`:
- every public method is one transaction; on SQLite this process's write transactions take turns
  (:mod:`core.storage.gate`, so none may start another inside it), as SQLite runs one at a time;
- usage counters change only through single conditional UPDATEs inside the transaction that
  creates or finishes the job (never read-then-write), so concurrent reservations cannot take a
  counter past its limit, on PostgreSQL under READ COMMITTED as on SQLite under BEGIN IMMEDIATE;
  on PostgreSQL a reservation is one statement in autocommit instead, job row included, which
  rolls itself back on a refusal (:mod:`core.storage.sql_reserve`);
- counters are touched in a fixed order (sorted by kind, then key), so two transactions drawing
  on the same user and community cannot deadlock on PostgreSQL's row locks;
- a job leaves QUEUED/RUNNING through one conditional UPDATE on its status; only the caller whose
  UPDATE matched moves credits, so a commit or a refund happens once even under concurrent calls;
- committing may take a counter past its limit (the edit has run, its real cost is charged); a
  refund never takes it below zero;
- a reservation's condition is ``used + credits <= limit + bonus`` in the same UPDATE; grants and
  takes change ``bonus`` and resets set ``used`` to 0, each in one statement (an upsert), so they
  can race reservations and each other without losing an update;
- every admin change and its audit row commit together or not at all;
- ``heartbeat_at`` starts at ``created_at``, so a job no worker ever picked up turns stale too;
- saving an IDLE conversation deletes it (IDLE conversations are not stored);
- reading a conversation reads its user's preferences in the same statement; the next
  ``get_preferences`` of that user within a second takes them instead of reading again (once),
  and ``set_preferences`` drops them: as fresh as two reads a moment apart (issue 11: an edit's
  statements).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from time import monotonic
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.actions import DeliveredPart
from core.clock import utcnow as _utcnow
from core.errors import QuotaExceeded
from core.events import EditOptions
from core.refs import ImageRef
from core.storage import rows, tables
from core.storage.db import SINGLE_READ, SINGLE_WRITE
from core.storage.direct import Direct, DirectPool, Prepared
from core.storage.gate import gate_for
from core.storage.protocol import (
    Conversation,
    ConversationKey,
    ConvState,
    Job,
    JobStage,
    JobStatus,
    QuotaScope,
    UsageSnapshot,
)
from core.storage.sql_admin import AdminQueries, any_scope, scope_values, usage_row
from core.storage.sql_full_size import FullSizeQueries
from core.storage.sql_recovery import UNFINISHED as _UNFINISHED
from core.storage.sql_recovery import FencedUpdate, RecoveryQueries, insert_for, upsert
from core.storage.sql_reserve import ConnectionRelay, PgReservation, charge_statement, exceeded

_jobs = tables.jobs
_usage = tables.usage
# What finishing a job reads back, to settle its reserved credits.
_FINISHED = (_jobs.c.reserved_credits, _jobs.c.scopes, _jobs.c.period_start)
_conversations = tables.conversations
_preferences = tables.preferences


def _conversation_query() -> sa.Select[Any]:
    """The conversation (or a row of NULLs) and its user's stored defaults, in one SELECT."""
    c, p = _conversations.c, _preferences.c
    platform, user_id = sa.bindparam("platform", type_=sa.String), sa.bindparam("user_id", type_=sa.String)
    defaults = sa.select(p.options).where(p.platform == platform, p.user_id == user_id).scalar_subquery()
    one_row = sa.select(sa.literal(1).label("one")).subquery()
    return sa.select(_conversations, defaults.label("user_defaults")).select_from(
        one_row.outerjoin(
            _conversations,
            sa.and_(c.platform == platform, c.chat_id == sa.bindparam("chat_id"), c.user_id == user_id),
        )
    )


def _seen_or_active_query() -> sa.Select[Any]:
    """Jobs under an idempotency key, and a user's unfinished ones."""
    active = sa.and_(
        _jobs.c.platform == sa.bindparam("platform"),
        _jobs.c.user_id == sa.bindparam("user_id"),
        _jobs.c.status.in_(_UNFINISHED),
    )
    return (
        sa.select(_jobs)
        .where(sa.or_(_jobs.c.idempotency_key == sa.bindparam("key"), active))
        .order_by(_jobs.c.created_at, _jobs.c.id)
    )


def _succeeded(with_delivery: bool) -> FencedUpdate:
    """The commit's UPDATE (see :meth:`SqlStore.succeed`), storing the delivery or not."""
    c = _jobs.c
    values: dict[str, Any] = {
        "status": JobStatus.SUCCEEDED.value,
        "credits": sa.bindparam("new_credits", type_=c.credits.type),
        "usage_tokens": sa.bindparam("new_tokens", type_=c.usage_tokens.type),
        "estimated_cost": sa.bindparam("new_cost", type_=c.estimated_cost.type),
        "result_refs": sa.bindparam("new_refs", type_=c.result_refs.type),
        "finished_at": sa.bindparam("new_finished", type_=c.finished_at.type),
    }
    if with_delivery:
        values["delivery"] = sa.bindparam("new_delivery", type_=c.delivery.type)
    return FencedUpdate(returning=_FINISHED, unfinished=True, **values)


def _usage_row() -> sa.ColumnElement[bool]:
    """:func:`~core.storage.sql_admin.usage_row` with bound parameters ``kind``, ``key``, ``period``."""
    period = sa.bindparam("period", type_=_usage.c.period_start.type)
    return usage_row(sa.bindparam("kind"), sa.bindparam("key"), period)


def _adjusted() -> Prepared:
    """A counter moved by ``delta`` (negative for a refund), floored at 0."""
    new_used = _usage.c.used + sa.bindparam("delta", type_=sa.Integer)
    return Prepared(
        sa.update(_usage).where(_usage_row()).values(used=sa.case((new_used < 0, 0), else_=new_used))
    )


def _charged(limited: bool) -> Prepared:
    """One counter charged ``credits`` (within ``ceiling`` + its bonus, when ``limited``)."""
    update = sa.update(_usage).where(_usage_row())
    if limited:
        update = update.where(
            _usage.c.used + sa.bindparam("credits") <= sa.bindparam("ceiling") + _usage.c.bonus
        )
    return Prepared(update.values(used=_usage.c.used + sa.bindparam("credits")).returning(_usage.c.used))


def _cancelled_unanswered() -> Prepared:
    """A user's unfinished jobs with no stored result, cancelled and claimed away from their workers."""
    return Prepared(
        sa.update(_jobs)
        .where(
            _jobs.c.platform == sa.bindparam("held_platform"),
            _jobs.c.user_id == sa.bindparam("held_user"),
            _jobs.c.status.in_(_UNFINISHED),
            _jobs.c.stage.in_((JobStage.RESERVED.value, JobStage.CALLING.value)),
        )
        .values(
            status=JobStatus.CANCELLED.value,
            error_kind="cancelled",
            finished_at=sa.bindparam("new_finished", type_=_jobs.c.finished_at.type),
            claims=_jobs.c.claims + 1,
        )
        .returning(*_jobs.c)
    )


@functools.cache
def _usages(scopes: int) -> Prepared:
    """The counters of ``scopes`` scopes (``kind0``, ``key0``, …) for ``period``: what /usage reads."""
    u = _usage.c
    period = sa.bindparam("period", type_=u.period_start.type)
    wanted = any_scope(u.scope_kind, u.scope_key, scopes)
    return Prepared(
        sa.select(u.scope_kind, u.scope_key, u.used, u.bonus).where(wanted, u.period_start == period)
    )


# Statements run for every edit, built once and run on the driver (core.storage.direct): through
# the session each cost ~450-500 µs of the event loop, on the driver ~120-150 µs.
_CONVERSATION = Prepared(_conversation_query())
_SEEN_OR_ACTIVE = Prepared(_seen_or_active_query())
_SUCCEEDED = {delivery: _succeeded(delivery) for delivery in (False, True)}
_FAILED = FencedUpdate(
    returning=_FINISHED,
    unfinished=True,
    status=sa.bindparam("new_status"),
    error_kind=sa.bindparam("new_error"),
    finished_at=sa.bindparam("new_finished", type_=_jobs.c.finished_at.type),
)
_CANCELLED_UNANSWERED = _cancelled_unanswered()
_ADJUSTED = _adjusted()
_CHARGED = {limited: _charged(limited) for limited in (False, True)}
_COUNTER_MADE = Prepared(
    lambda dialect: (
        insert_for(dialect, _usage)
        .values(
            scope_kind=sa.bindparam("kind"),
            scope_key=sa.bindparam("key"),
            period_start=sa.bindparam("period", type_=_usage.c.period_start.type),
            used=0,
        )
        .on_conflict_do_nothing()
    )
)
_COUNTER = Prepared(sa.select(_usage.c.used, _usage.c.bonus).where(_usage_row()))
_JOB_BY_KEY = Prepared(sa.select(_jobs).where(_jobs.c.idempotency_key == sa.bindparam("key")))
_JOB_INSERTED = Prepared(
    lambda dialect: (
        insert_for(dialect, _jobs)
        .on_conflict_do_nothing(index_elements=[_jobs.c.idempotency_key])
        .returning(_jobs.c.id)
    )
)

# How long preferences read with a conversation stand in for reading them again (see the module).
_PREFETCH_SECONDS = 1.0
# PostgreSQL connections reservations hand on to each other under a burst (sql_reserve.ConnectionRelay).
_RESERVING_CONNECTIONS = 4


_upsert = upsert


def _lock_order(scopes: Iterable[QuotaScope]) -> list[QuotaScope]:
    ordered = sorted(scopes, key=lambda s: (s.kind, s.key))
    for first, second in pairwise(ordered):
        if (first.kind, first.key) == (second.kind, second.key):
            raise ValueError(f"quota scope {first.kind}:{first.key} given twice")
    return ordered


class SqlStore(RecoveryQueries, FullSizeQueries, AdminQueries):
    """The production :class:`core.storage.protocol.Store`.

    ``sessions`` comes from :func:`core.storage.db.create_sessionmaker`; ``clock`` returns the
    current aware UTC time (tests pass a fake one).
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # (platform, user id) -> (when read, stored options): preferences read with a conversation.
        self._prefetched: dict[tuple[str, str], tuple[float, Any]] = {}
        self._gate = gate_for(sessions)
        # PostgreSQL reserves in one round trip (see create_job); SQLite writes take turns anyway.
        engine: AsyncEngine = sessions.kw["bind"]
        self._direct = DirectPool(engine)
        self._one_trip: PgReservation | None = None
        self._relay: ConnectionRelay | None = None
        if engine.dialect.name == "postgresql":
            self._one_trip = PgReservation(engine.dialect)
            self._relay = ConnectionRelay(engine, _RESERVING_CONNECTIONS)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on any exception; on SQLite it
        waits its turn at the process's :class:`core.storage.gate.WriteGate` first."""
        async with self._gate.hold(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _write_one(self) -> AsyncIterator[AsyncSession]:
        """One INSERT, UPDATE or DELETE (every caller runs exactly one): its turn taken as any
        write's, and on SQLite no ``BEGIN`` (the lone statement is atomic on its own)."""
        async with self._write() as session:
            await session.connection(execution_options=dict(SINGLE_WRITE))
            yield session

    @asynccontextmanager
    async def _lone(self) -> AsyncIterator[Direct]:
        """Statements on the driver (:mod:`core.storage.direct`), each its own transaction; for reads."""
        async with self._direct.autocommit() as direct:
            yield direct

    @asynccontextmanager
    async def _lone_write(self) -> AsyncIterator[Direct]:
        """:meth:`_lone` for a write: its turn taken as any write's."""
        async with self._gate.hold(), self._direct.autocommit() as direct:
            yield direct

    @asynccontextmanager
    async def _transaction(self, *, read_first: bool = False) -> AsyncIterator[Direct]:
        """A write transaction on the driver (:mod:`core.storage.direct`), its turn taken as any
        write's; ``read_first`` when its first statement is a SELECT."""
        async with self._gate.hold(), self._direct.write(read_first=read_first) as direct:
            yield direct

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        """One SELECT (every caller runs exactly one): no write lock, and on SQLite no transaction."""
        async with self._sessions() as session, session.begin():
            await session.connection(execution_options=dict(SINGLE_READ))
            yield session

    # -- conversations -------------------------------------------------------------------

    async def get_conversation(self, key: ConversationKey) -> Conversation | None:
        """The stored conversation, or None (its user's preferences come along, see the module)."""
        values = {"platform": key.platform, "chat_id": key.chat_id, "user_id": key.user_id}
        async with self._lone() as direct:
            row = (await direct.rows(_CONVERSATION, **values))[0]
        self._prefetch(key.platform, key.user_id, row["user_defaults"])
        return None if row["platform"] is None else rows.conversation_from_row(row)

    def _prefetch(self, platform: str, user_id: str, data: Any) -> None:
        now = monotonic()
        if len(self._prefetched) > 1000:  # bounded: unused entries are dropped once stale
            self._prefetched = {k: v for k, v in self._prefetched.items() if now - v[0] < _PREFETCH_SECONDS}
        self._prefetched[(platform, user_id)] = (now, data)

    async def save_conversation(self, conversation: Conversation) -> None:
        """Insert or replace; sets ``updated_at`` to now. An IDLE conversation is deleted instead."""
        if conversation.state is ConvState.IDLE:
            await self.delete_conversation(conversation.key)
            return
        values = rows.conversation_values(conversation) | {"updated_at": self._clock()}
        async with self._write() as session:
            insert = _upsert(session, _conversations).values(**values)
            key_columns = ("platform", "chat_id", "user_id")
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=list(key_columns),
                    set_={name: insert.excluded[name] for name in values if name not in key_columns},
                )
            )

    async def delete_conversation(self, key: ConversationKey) -> None:
        """Forget the conversation (no error when absent)."""
        c = _conversations.c
        async with self._write() as session:
            await session.execute(
                sa.delete(_conversations).where(
                    c.platform == key.platform, c.chat_id == key.chat_id, c.user_id == key.user_id
                )
            )

    # -- jobs and quotas -----------------------------------------------------------------

    async def create_job(self, job: Job, scopes: tuple[QuotaScope, ...]) -> tuple[Job, bool]:
        """Insert the job and reserve ``job.credits`` in every scope for ``job.period_start``, atomically.

        Returns ``(job, True)`` with ``created_at``/``heartbeat_at`` filled in; or
        ``(existing, False)`` when the idempotency key exists (nothing charged). Raises
        :class:`QuotaExceeded` (details ``scope``, ``used``, ``limit``) when a scope would go past
        its limit; then nothing is inserted and nothing charged.
        """
        if job.credits < 0:
            raise ValueError("a job cannot reserve negative credits")
        if job.status is not JobStatus.QUEUED and (job.status is not JobStatus.RUNNING or not job.worker_id):
            raise ValueError("a new job must be QUEUED, or RUNNING with its worker")
        ordered = _lock_order(scopes)
        created_at = job.created_at or self._clock()
        job = replace(job, created_at=created_at, heartbeat_at=job.heartbeat_at or created_at)

        fits = all(s.limit is None or job.credits <= s.limit for s in ordered)
        if fits and self._one_trip is not None:
            return await self._create_in_one_trip(job, ordered)
        # ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a second
        # insert of the same key waits for the first transaction and then does nothing (or
        # inserts, if the first rolled back), and the transaction stays usable.
        async with self._transaction() as direct:
            if await direct.first(_JOB_INSERTED, **rows.job_values(job, ordered)) is None:
                existing = await direct.first(_JOB_BY_KEY, key=job.idempotency_key)
                if existing is None:  # only if someone deleted the row in between
                    raise RuntimeError(f"job with idempotency key {job.idempotency_key!r} vanished")
                return rows.job_from_row(existing), False
            if fits:
                await self._reserve_all(direct, ordered, job.credits, job.period_start)
            else:
                # Only a grant could let this through: decided per counter, knowing its bonus.
                for scope in ordered:
                    await self._reserve(direct, scope, job.credits, job.period_start)
        return job, True

    async def _create_in_one_trip(self, job: Job, ordered: list[QuotaScope]) -> tuple[Job, bool]:
        """:meth:`create_job` on PostgreSQL when ``job.credits`` fits every limit on its own: one
        statement in autocommit (:mod:`core.storage.sql_reserve`), so no counter stays locked
        across round trips; the rare outcomes (a known key, a refusal) read afterwards."""
        assert self._one_trip is not None and self._relay is not None
        async with self._relay.connection() as connection:
            created = await self._one_trip.create(
                connection, rows.job_values(job, ordered), ordered, job.credits, job.period_start
            )
        if isinstance(created, QuotaExceeded):
            raise created
        if created:
            return job, True
        async with self._read() as session:
            existing = await self._job_where(session, _jobs.c.idempotency_key == job.idempotency_key)
        if existing is None:  # only if someone deleted the row in between
            raise RuntimeError(f"job with idempotency key {job.idempotency_key!r} vanished")
        return existing, False

    async def _reserve_all(
        self, direct: Direct, ordered: list[QuotaScope], credits: int, period: datetime
    ) -> None:
        """Add ``credits`` to every scope's counter in one statement, or raise for the first refusal.

        One multi-row ``INSERT … ON CONFLICT DO UPDATE … WHERE used + credits <= limit + bonus
        RETURNING`` (:func:`~core.storage.sql_reserve.charge_statement`): a missing counter is created
        already charged (the caller checked that ``credits`` fits every limit on its own), an existing
        one is charged only within its limit, each row locked and checked against its newest version
        (no overshoot on PostgreSQL; SQLite writes one at a time). A counter that did not come back
        refused the edit; raising rolls the whole transaction back, so nothing is charged anywhere.
        Rows go in lock order.
        """
        statement, params = charge_statement(ordered, credits, period)
        done = {(row["scope_kind"], row["scope_key"]) for row in await direct.rows(statement, **params)}
        for scope in ordered:
            if (scope.kind, scope.key) not in done:
                raise await _refusal(direct, scope, period)

    async def _reserve(self, direct: Direct, scope: QuotaScope, credits: int, period: datetime) -> None:
        """Add ``credits`` to the scope's counter if that stays within the limit, else raise."""
        where = {"kind": scope.kind, "key": scope.key, "period": period}
        await direct.execute(_COUNTER_MADE, **where)
        if scope.limit is None:
            charged = await direct.first(_CHARGED[False], credits=credits, **where)
        else:
            charged = await direct.first(_CHARGED[True], credits=credits, ceiling=scope.limit, **where)
        if charged is None:
            raise await _refusal(direct, scope, period)

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""
        async with self._read() as session:
            return await self._job_where(session, _jobs.c.id == job_id)

    async def job_by_key(self, idempotency_key: str) -> Job | None:
        """The job created under ``idempotency_key``, or None."""
        async with self._read() as session:
            return await self._job_where(session, _jobs.c.idempotency_key == idempotency_key)

    async def _job_where(self, session: AsyncSession, condition: sa.ColumnElement[bool]) -> Job | None:
        row = (await session.execute(sa.select(_jobs).where(condition))).mappings().first()
        return None if row is None else rows.job_from_row(row)

    async def mark_running(self, job_id: str, worker_id: str) -> bool:
        """QUEUED -> RUNNING with started/heartbeat times; False if the job is not queued."""
        now = self._clock()
        async with self._write_one() as session:
            result = await session.execute(
                sa.update(_jobs)
                .where(_jobs.c.id == job_id, _jobs.c.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.RUNNING.value,
                    worker_id=worker_id,
                    started_at=now,
                    heartbeat_at=now,
                    claims=_jobs.c.claims + 1,
                )
                .returning(_jobs.c.id)
            )
            return result.first() is not None

    async def heartbeat(self, job_ids: list[str], worker_id: str) -> None:
        """Refresh ``heartbeat_at`` of running jobs owned by ``worker_id``."""
        if not job_ids:
            return
        async with self._write_one() as session:
            await session.execute(
                sa.update(_jobs)
                .where(
                    _jobs.c.id.in_(job_ids),
                    _jobs.c.worker_id == worker_id,
                    _jobs.c.status == JobStatus.RUNNING.value,
                )
                .values(heartbeat_at=self._clock())
            )

    async def succeed(
        self,
        job_id: str,
        *,
        credits: int,
        usage_tokens: int | None,
        estimated_cost: float | None,
        result_refs: tuple[ImageRef, ...],
        claim: int | None = None,
        delivery: Sequence[DeliveredPart] | None = None,
    ) -> bool:
        """Commit: status SUCCEEDED, usage adjusted from the reserved to the real ``credits``.

        ``delivery`` (when given) is stored in the same UPDATE: the result's last part, recorded
        with the commit rather than on its own. False (and nothing changed) when the job had
        already finished, or was claimed again since the fencing token ``claim``.
        """
        if credits < 0:
            raise ValueError("a job cannot be charged negative credits")
        params = {
            "new_credits": credits,
            "new_tokens": usage_tokens,
            "new_cost": estimated_cost,
            "new_refs": rows.refs_to_json(result_refs),
            "new_finished": self._clock(),
        }
        if delivery is not None:
            params["new_delivery"] = [p.to_json() for p in delivery]
        async with self._transaction() as direct:
            row = await _SUCCEEDED[delivery is not None].first(direct, job_id, claim, **params)
            if row is None:
                return False
            await _adjust(direct, row["scopes"], row["period_start"], credits - row["reserved_credits"])
        return True

    async def fail(
        self, job_id: str, *, error_kind: str, status: JobStatus = JobStatus.FAILED, claim: int | None = None
    ) -> bool:
        """Refund the reservation and finish the job as FAILED or CANCELLED; False if already
        finished (or claimed again since the fencing token ``claim``)."""
        if status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise ValueError(f"fail() finishes a job as failed or cancelled, not {status}")
        params = {"new_status": status.value, "new_error": error_kind, "new_finished": self._clock()}
        async with self._transaction() as direct:
            row = await _FAILED.first(direct, job_id, claim, **params)
            if row is None:
                return False
            await _adjust(direct, row["scopes"], row["period_start"], -row["reserved_credits"])
        return True

    async def cancel_unanswered(self, platform: str, user_id: str) -> list[Job]:
        """Cancel and refund the user's unfinished jobs with no stored result; the jobs cancelled.

        One conditional UPDATE picks and finishes them (a job a worker answers meanwhile is not
        matched: its result is shown), bumping the fencing token so its worker stops.
        """
        values = {"held_platform": platform, "held_user": user_id, "new_finished": self._clock()}
        async with self._transaction() as direct:
            cancelled = await direct.rows(_CANCELLED_UNANSWERED, **values)
            for row in cancelled:
                await _adjust(direct, row["scopes"], row["period_start"], -row["reserved_credits"])
        return [rows.job_from_row(row) for row in cancelled]

    async def active_jobs(self, platform: str, user_id: str) -> list[Job]:
        """The user's queued or running jobs, oldest first."""
        query = (
            sa.select(_jobs)
            .where(_jobs.c.platform == platform, _jobs.c.user_id == user_id, _jobs.c.status.in_(_UNFINISHED))
            .order_by(_jobs.c.created_at, _jobs.c.id)
        )
        async with self._read() as session:
            result = await session.execute(query)
            return [rows.job_from_row(row) for row in result.mappings()]

    async def seen_or_active(
        self, idempotency_key: str, platform: str, user_id: str
    ) -> tuple[bool, list[Job]]:
        """Whether a job exists under ``idempotency_key``, and the user's active jobs, in one statement."""
        values = {"key": idempotency_key, "platform": platform, "user_id": user_id}
        async with self._lone() as direct:
            found = [rows.job_from_row(row) for row in await direct.rows(_SEEN_OR_ACTIVE, **values)]
        seen = any(j.idempotency_key == idempotency_key for j in found)
        unfinished = [
            j for j in found if j.platform == platform and j.user_id == user_id and not j.status.finished
        ]
        return seen, unfinished

    async def stale_jobs(self, heartbeat_before: datetime) -> list[Job]:
        """Unfinished jobs whose worker has not been heard from since ``heartbeat_before``, oldest first."""
        query = (
            sa.select(_jobs)
            .where(_jobs.c.status.in_(_UNFINISHED), _jobs.c.heartbeat_at < heartbeat_before)
            .order_by(_jobs.c.heartbeat_at, _jobs.c.id)
        )
        async with self._read() as session:
            result = await session.execute(query)
            return [rows.job_from_row(row) for row in result.mappings()]

    async def usage(self, kind: str, key: str, period_start: datetime) -> UsageSnapshot:
        """Credits used (committed plus reserved) in a scope for a period; 0 when nothing yet."""
        async with self._read() as session:
            return await self._snapshot(session, kind, key, period_start)

    async def usages(self, scopes: Sequence[QuotaScope], period_start: datetime) -> list[UsageSnapshot]:
        """:meth:`usage` of several scopes in one statement, in their order."""
        if not scopes:
            return []
        params = {"period": period_start, **scope_values([(s.kind, s.key) for s in scopes])}
        async with self._lone() as direct:
            found = {
                (r["scope_kind"], r["scope_key"]): (int(r["used"]), int(r["bonus"]))
                for r in await direct.rows(_usages(len(scopes)), **params)
            }
        return [
            UsageSnapshot(s.kind, s.key, period_start, *found.get((s.kind, s.key), (0, 0))) for s in scopes
        ]

    async def _snapshot(
        self, session: AsyncSession, kind: str, key: str, period_start: datetime
    ) -> UsageSnapshot:
        query = sa.select(_usage.c.used, _usage.c.bonus).where(usage_row(kind, key, period_start))
        row = (await session.execute(query)).first()
        used, bonus = (int(row.used), int(row.bonus)) if row is not None else (0, 0)
        return UsageSnapshot(kind=kind, key=key, period_start=period_start, used=used, bonus=bonus)

    # -- preferences ---------------------------------------------------------------------

    async def get_preferences(self, platform: str, user_id: str) -> EditOptions:
        """The user's saved defaults (all None when never set)."""
        prefetched = self._prefetched.pop((platform, user_id), None)
        if prefetched is not None and monotonic() - prefetched[0] < _PREFETCH_SECONDS:
            return rows.options_from_json(prefetched[1])
        p = _preferences.c
        async with self._read() as session:
            data = await session.scalar(
                sa.select(p.options).where(p.platform == platform, p.user_id == user_id)
            )
        return rows.options_from_json(data)

    async def set_preferences(self, platform: str, user_id: str, options: EditOptions) -> None:
        """Save the user's defaults."""
        self._prefetched.pop((platform, user_id), None)
        values = {
            "platform": platform,
            "user_id": user_id,
            "options": rows.options_to_json(options),
            "updated_at": self._clock(),
        }
        async with self._write() as session:
            insert = _upsert(session, _preferences).values(**values)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["platform", "user_id"],
                    set_={"options": insert.excluded.options, "updated_at": insert.excluded.updated_at},
                )
            )


async def _refusal(direct: Direct, scope: QuotaScope, period: datetime) -> QuotaExceeded:
    """Why ``scope`` refused a reservation: read only to explain it (the decision was the write's)."""
    counter = await direct.first(_COUNTER, kind=scope.kind, key=scope.key, period=period)
    return exceeded(scope, None if counter is None else (counter["used"], counter["bonus"]))


async def _adjust(direct: Direct, scopes: Iterable[Sequence[str]], period: datetime, delta: int) -> None:
    """Add ``delta`` (negative for a refund) to each stored ``[kind, key]`` counter, floored at 0."""
    if delta == 0:
        return
    for kind, key in sorted((str(kind), str(key)) for kind, key in scopes):
        await direct.execute(_ADJUSTED, kind=kind, key=key, period=period, delta=delta)
