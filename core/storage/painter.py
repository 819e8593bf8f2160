"""The painter's storage: drawings (PNG bytes a mask reference points at) and spent single-use tokens.

Invariants: a drawing id is random (never derived from a user or a photo), so nothing is reachable by
guessing; :meth:`SqlPainterStore.spend` returns True to exactly one caller per nonce (its INSERT
succeeds for one transaction only), on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.identity import UserKey
from core.storage.tables import painter_drawings as _drawings
from core.storage.tables import painter_nonces as _nonces

# A drawing outlives its conversation so "Retry" on an edit made with it still works for a while.
DRAWING_TTL = timedelta(days=7)


class SqlPainterStore:
    """:class:`core.painter.PainterStore` on the ``painter_drawings`` and ``painter_nonces`` tables."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put_drawing(self, owner: UserKey, data: bytes, now: datetime) -> str:
        """Store ``data``; returns its new random id. Drawings past their time are purged on the way."""
        drawing_id = secrets.token_urlsafe(24)
        async with self._sessions() as session, session.begin():
            await session.execute(sa.delete(_drawings).where(_drawings.c.created_at < now - DRAWING_TTL))
            await session.execute(
                sa.insert(_drawings).values(
                    id=drawing_id,
                    platform=str(owner.platform),
                    user_id=owner.user_id,
                    data=data,
                    created_at=now,
                )
            )
        return drawing_id

    async def get_drawing(self, drawing_id: str) -> bytes | None:
        """The drawing's bytes, or None when there is none by that id (any more)."""
        async with self._sessions() as session:
            data = await session.scalar(sa.select(_drawings.c.data).where(_drawings.c.id == drawing_id))
        return bytes(data) if data is not None else None

    async def spend(self, nonce: str, expires_at: datetime, now: datetime) -> bool:
        """Mark a single-use token spent: True the first time, False for every replay."""
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(sa.delete(_nonces).where(_nonces.c.expires_at < now))
                await session.execute(sa.insert(_nonces).values(nonce=nonce, expires_at=expires_at))
        except IntegrityError:
            return False
        return True
