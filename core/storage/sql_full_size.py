"""Full-size results of :class:`core.storage.sql_store.SqlStore` (issue 11): a result's original
files, kept for a while behind a "Full size" button.

Invariants:
- the rows are separate from ``job_results`` (which never outlive their job) and expire: the
  periodic sweep deletes them after ``expires_at``, and a press after that finds nothing even
  before the sweep ran;
- a press takes the files with one conditional UPDATE (``sent_at`` older than the cutoff), so of
  two presses at once, in one process or two, exactly one sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage import tables
from core.storage.protocol import FullSizeState, KeptFiles

_kept = tables.full_size_results


class FullSizeQueries:
    """The full-size part of ``SqlStore`` (which provides the transactions)."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractAsyncContextManager[AsyncSession]: ...

        def _read(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    async def keep_full_size(self, job_id: str, images: Sequence[bytes], expires_at: datetime) -> None:
        """Keep a result's original files until ``expires_at`` (again: the same files, unchanged)."""
        # A resumed delivery keeps the same result again: the rows are replaced, not duplicated.
        async with self._write() as session:
            await session.execute(sa.delete(_kept).where(_kept.c.job_id == job_id))
            if images:
                await session.execute(
                    sa.insert(_kept),
                    [
                        {"job_id": job_id, "idx": i, "data": data, "expires_at": expires_at}
                        for i, data in enumerate(images)
                    ],
                )

    async def take_full_size(self, job_id: str, now: datetime, *, sent_before: datetime) -> KeptFiles:
        """The kept files of ``job_id`` for one press, unless they expired or a press sent them
        after ``sent_before`` (one conditional statement: of two presses at once, one sends)."""
        live = sa.and_(_kept.c.job_id == job_id, _kept.c.expires_at > now)
        async with self._write() as session:
            taken = await session.execute(
                sa.update(_kept)
                .where(live, sa.or_(_kept.c.sent_at.is_(None), _kept.c.sent_at < sent_before))
                .values(sent_at=now)
                .returning(_kept.c.idx, _kept.c.data)
            )
            rows = sorted(taken.all())
            if rows:
                return KeptFiles(FullSizeState.SEND, tuple(bytes(data) for _, data in rows))
            kept = await session.scalar(sa.select(sa.func.count()).select_from(_kept).where(live))
        return KeptFiles(FullSizeState.JUST_SENT if kept else FullSizeState.GONE)

    async def full_size_image(self, job_id: str, index: int, now: datetime) -> bytes | None:
        """One kept original, to edit again from (no press is counted); None once expired."""
        query = sa.select(_kept.c.data).where(
            _kept.c.job_id == job_id, _kept.c.idx == index, _kept.c.expires_at > now
        )
        async with self._read() as session:
            data = await session.scalar(query)
        return None if data is None else bytes(data)

    async def purge_full_size(self, now: datetime) -> int:
        """Delete the files expired by ``now``; how many were deleted."""
        async with self._write() as session:
            result = await session.execute(sa.delete(_kept).where(_kept.c.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
