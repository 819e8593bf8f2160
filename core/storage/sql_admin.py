"""The admin part of ``SqlStore``: limit overrides, grants and takes, blocks, usage resets, the
audit log and the job activity reports read.

Every change and its audit row commit together or not at all; grants and takes change ``bonus``
and resets set ``used`` to 0, each in one statement (an upsert), so they can race reservations and
each other without losing an update.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage import rows, tables
from core.storage.direct import Direct, Prepared
from core.storage.protocol import AuditEntry, JobActivity, LimitOverride, UsageSnapshot
from core.storage.sql_recovery import upsert as _upsert

_jobs = tables.jobs
_usage = tables.usage
_limits = tables.quota_limits
_blocks = tables.blocks
_audit = tables.audit_log


def any_scope(kind: sa.Column[str], key: sa.Column[str], scopes: int) -> sa.ColumnElement[bool]:
    """One of ``scopes`` scopes, given as bound parameters ``kind0``, ``key0``, … (:func:`scope_values`)."""
    pairs = (sa.and_(kind == sa.bindparam(f"kind{i}"), key == sa.bindparam(f"key{i}")) for i in range(scopes))
    return sa.or_(sa.false(), *pairs)


def scope_values(scopes: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The values of :func:`any_scope`'s parameters for these (kind, key) pairs."""
    values = {}
    for i, (kind, key) in enumerate(scopes):
        values[f"kind{i}"], values[f"key{i}"] = kind, key
    return values


@functools.cache
def _limits_and_blocks(scopes: int) -> Prepared:
    """Limit overrides of ``scopes`` scopes (``kind0``, ``key0``, …) and a user's blocks, told apart
    by a flag; one statement per number of scopes, built once: it runs for every edit (see
    ``sql_store._CONVERSATION``)."""
    lc, bc = _limits.c, _blocks.c
    wanted = any_scope(lc.scope_kind, lc.scope_key, scopes)
    limits = sa.select(
        sa.literal(0).label("is_block"),
        lc.scope_kind.label("kind"),
        lc.scope_key.label("key"),
        lc.credit_limit,
    ).where(wanted)
    blocks = sa.select(
        sa.literal(1).label("is_block"),
        sa.literal("").label("kind"),
        bc.scope.label("key"),
        sa.literal(0).label("credit_limit"),
    ).where(bc.platform == sa.bindparam("platform"), bc.user_id == sa.bindparam("user_id"))
    return Prepared(sa.union_all(limits, blocks))


def usage_row(
    kind: str | sa.BindParameter[Any],
    key: str | sa.BindParameter[Any],
    period_start: datetime | sa.BindParameter[Any],
) -> sa.ColumnElement[bool]:
    """The ``usage`` row of one scope and period; values, or bound parameters for a statement built
    once (:class:`core.storage.direct.Prepared`)."""
    return sa.and_(
        _usage.c.scope_kind == kind, _usage.c.scope_key == key, _usage.c.period_start == period_start
    )


class AdminQueries:
    """The admin part of ``SqlStore`` (which provides the transactions, the clock and snapshots)."""

    _clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def _write(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _read(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _lone(self) -> AbstractAsyncContextManager[Direct]: ...

        async def _snapshot(
            self, session: AsyncSession, kind: str, key: str, period_start: datetime
        ) -> UsageSnapshot: ...

    async def _log(self, session: AsyncSession, audit: AuditEntry) -> None:
        await session.execute(sa.insert(_audit).values(**rows.audit_values(audit, self._clock())))

    async def get_limits(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored overrides among ``(kind, key)`` pairs; pairs without one are absent."""
        if not keys:
            return {}
        c = _limits.c
        query = sa.select(c.scope_kind, c.scope_key, c.credit_limit).where(
            sa.tuple_(c.scope_kind, c.scope_key).in_([tuple(k) for k in keys])
        )
        async with self._read() as session:
            result = await session.execute(query)
            return {(row.scope_kind, row.scope_key): int(row.credit_limit) for row in result}

    async def community_limits(self, community: str) -> list[LimitOverride]:
        """Every override of one community (its pool, its members' default, single members)."""
        c = _limits.c
        query = (
            sa.select(_limits)
            .where(
                sa.or_(
                    sa.and_(c.scope_kind.in_(("community", "members")), c.scope_key == community),
                    sa.and_(
                        c.scope_kind == "member", c.scope_key.startswith(f"{community}/", autoescape=True)
                    ),
                )
            )
            .order_by(c.scope_kind, c.scope_key)
        )
        async with self._read() as session:
            result = await session.execute(query)
            return [rows.limit_from_row(row) for row in result.mappings()]

    async def set_limit(
        self, kind: str, key: str, limit: int | None, audit: AuditEntry, *, label: str | None = None
    ) -> int | None:
        """Store (or with None remove) an override, audited; returns the previous override."""
        if limit is not None and limit < 0:
            raise ValueError("a limit cannot be negative")
        c = _limits.c
        where = sa.and_(c.scope_kind == kind, c.scope_key == key)
        async with self._write() as session:
            # Read for the audit trail only; the write below does not depend on it.
            previous = await session.scalar(sa.select(c.credit_limit).where(where))
            if limit is None:
                await session.execute(sa.delete(_limits).where(where))
            else:
                values = {
                    "scope_kind": kind,
                    "scope_key": key,
                    "credit_limit": limit,
                    "label": label,
                    "updated_by": audit.actor,
                    "updated_at": self._clock(),
                }
                insert = _upsert(session, _limits).values(**values)
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["scope_kind", "scope_key"],
                        set_={
                            name: insert.excluded[name]
                            for name in ("credit_limit", "label", "updated_by", "updated_at")
                        },
                    )
                )
            details = {"kind": kind, "limit": limit, "previous": previous}
            await self._log(session, replace(audit, details={**details, **audit.details}))
        return None if previous is None else int(previous)

    async def blocks_of(self, platform: str, user_id: str) -> frozenset[str]:
        """Where the user is blocked: community scope keys, and ``*`` for everywhere."""
        c = _blocks.c
        async with self._read() as session:
            result = await session.scalars(
                sa.select(c.scope).where(c.platform == platform, c.user_id == user_id)
            )
            return frozenset(result)

    async def limits_and_blocks(
        self, keys: Sequence[tuple[str, str]], platform: str, user_id: str
    ) -> tuple[dict[tuple[str, str], int], frozenset[str]]:
        """:meth:`get_limits` and :meth:`blocks_of` in one statement (``UNION ALL``, told apart by a flag)."""
        found: dict[tuple[str, str], int] = {}
        blocked: set[str] = set()
        values = {"platform": platform, "user_id": user_id, **scope_values(keys)}
        async with self._lone() as direct:
            for row in await direct.rows(_limits_and_blocks(len(keys)), **values):
                if row["is_block"]:
                    blocked.add(row["key"])
                else:
                    found[(row["kind"], row["key"])] = int(row["credit_limit"])
        return found, frozenset(blocked)

    async def set_block(
        self, platform: str, user_id: str, where: str, blocked: bool, audit: AuditEntry
    ) -> bool:
        """Block or unblock the user in ``where`` (a community key or ``*``); False if nothing changed."""
        c = _blocks.c
        async with self._write() as session:
            if blocked:
                result = await session.execute(
                    _upsert(session, _blocks)
                    .values(
                        platform=platform,
                        user_id=user_id,
                        scope=where,
                        label=audit.target_name,
                        created_by=audit.actor,
                        created_at=self._clock(),
                    )
                    .on_conflict_do_nothing()
                    .returning(c.scope)
                )
            else:
                result = await session.execute(
                    sa.delete(_blocks)
                    .where(c.platform == platform, c.user_id == user_id, c.scope == where)
                    .returning(c.scope)
                )
            if result.first() is None:
                return False
            await self._log(session, audit)
        return True

    async def add_bonus(
        self, kind: str, key: str, period_start: datetime, credits: int, audit: AuditEntry
    ) -> UsageSnapshot:
        """Add ``credits`` (negative to take) to the scope's bonus for the period, audited."""
        async with self._write() as session:
            insert = _upsert(session, _usage).values(
                scope_kind=kind, scope_key=key, period_start=period_start, used=0, bonus=credits
            )
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["scope_kind", "scope_key", "period_start"],
                    set_={"bonus": _usage.c.bonus + insert.excluded.bonus},
                )
            )
            await self._log(session, audit)
            return await self._snapshot(session, kind, key, period_start)

    async def reset_usage(
        self, kind: str, key: str, period_start: datetime, audit: AuditEntry
    ) -> UsageSnapshot:
        """Set the scope's used credits for the period to 0, audited (in-flight refunds stay >= 0)."""
        async with self._write() as session:
            result = await session.execute(
                sa.update(_usage)
                .where(usage_row(kind, key, period_start))
                .values(used=0)
                .returning(_usage.c.bonus)
            )
            found = result.first()
            await self._log(session, audit)
        bonus = int(found.bonus) if found is not None else 0
        return UsageSnapshot(kind=kind, key=key, period_start=period_start, used=0, bonus=bonus)

    async def audit_log(self, *, community: str | None = None, limit: int = 20) -> list[AuditEntry]:
        """The latest entries, newest first: one community's, or with None every entry."""
        query = sa.select(_audit).order_by(_audit.c.id.desc()).limit(limit)
        if community is not None:
            query = query.where(_audit.c.community == community)
        async with self._read() as session:
            result = await session.execute(query)
            return [rows.audit_from_row(row) for row in result.mappings()]

    async def job_activity(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        platform: str | None = None,
        community_id: str | None = None,
    ) -> list[JobActivity]:
        """Jobs created in ``[since, until)``, oldest first, optionally of one community."""
        c = _jobs.c
        query = (
            sa.select(
                c.id,
                c.platform,
                c.user_id,
                c.community_id,
                c.status,
                c.credits,
                c.created_at,
                c.usage_tokens,
                c.estimated_cost,
                c.origin,
            )
            .where(c.created_at >= since)
            .order_by(c.created_at, c.id)
        )
        if until is not None:
            query = query.where(c.created_at < until)
        if platform is not None:
            query = query.where(c.platform == platform)
        if community_id is not None:
            query = query.where(c.community_id == community_id)
        async with self._read() as session:
            result = await session.execute(query)
            return [rows.activity_from_row(row) for row in result.mappings()]
