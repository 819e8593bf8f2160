"""Owner alerts in the database: each kind is claimed by one statement, so one process tells the owners.

Invariant: :meth:`SqlAlertLedger.open` returns True to exactly one caller per alert (the row's
conditional UPDATE or its INSERT succeeds for one transaction only), and :meth:`resolve_all` hands
each open alert to exactly one caller (the UPDATE ... RETURNING of one transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.tables import owner_alerts as _alerts


class SqlAlertLedger:
    """:class:`core.alerts.AlertLedger` on the ``owner_alerts`` table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def open(self, kind: str, now: datetime, cooldown: timedelta) -> bool:
        """Claim the alert ``kind``: True when the caller must tell the owners.

        False while it is open, and for ``cooldown`` after it was last opened (a flapping API
        does not page the owners on every swing).
        """
        c = _alerts.c
        try:
            async with self._sessions() as session, session.begin():
                reopened = await session.execute(
                    sa.update(_alerts)
                    .where(c.kind == kind, c.resolved_at.is_not(None), c.opened_at <= now - cooldown)
                    .values(opened_at=now, resolved_at=None)
                )
                if reopened.rowcount:  # type: ignore[attr-defined]
                    return True
                exists = await session.scalar(
                    sa.select(sa.func.count()).select_from(_alerts).where(c.kind == kind)
                )
                if exists:
                    return False
                await session.execute(sa.insert(_alerts).values(kind=kind, opened_at=now, resolved_at=None))
                return True
        except IntegrityError:
            return False  # another process inserted the same kind first: it tells the owners

    async def resolve_all(self, now: datetime) -> tuple[str, ...]:
        """Close every open alert; the kinds this caller closed (it sends the recovery message)."""
        c = _alerts.c
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                sa.update(_alerts).where(c.resolved_at.is_(None)).values(resolved_at=now).returning(c.kind)
            )
            return tuple(sorted(result.scalars()))
