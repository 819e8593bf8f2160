"""Conversation order across processes on PostgreSQL: the inbox says what came first, an advisory
lock says who handles now (:class:`core.ordering.ConversationGuard`).

Invariants:
- an update is handled only once no earlier update of its conversation (stored by any process)
  is left unhandled; update ids grow with time, compared as numbers (length, then text). Album
  parts are not waited for (they stay unhandled until their album's last part arrived);
- while it is handled, the process holds ``pg_advisory_lock`` on the conversation's key, on a
  connection of its own, released when the handler returns (or the connection drops with the
  process: PostgreSQL releases a dead session's locks);
- an earlier update that stays unhandled (its process died before the inbox sweep replays it) is
  waited for at most ``patience`` seconds, so a conversation never stalls for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.storage import tables
from core.storage.protocol import StoredUpdate

log = logging.getLogger(__name__)

_inbox = tables.inbox


def _before(update_id: str) -> sa.ColumnElement[bool]:
    """Inbox rows whose update id is smaller than ``update_id`` as a number."""
    length = sa.func.length(_inbox.c.update_id)
    return sa.or_(
        length < len(update_id),
        sa.and_(length == len(update_id), _inbox.c.update_id < update_id),
    )


class SqlConversationGuard:
    """:class:`core.ordering.ConversationGuard` on PostgreSQL."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        patience: float = 90.0,
        poll: float = 0.05,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("conversation locks across processes need PostgreSQL")
        self._engine = engine
        self._sessions = sessions
        self._patience = patience
        self._poll = poll

    async def _earlier(self, platform: str, conversation: str, update_id: str) -> bool:
        query = sa.select(
            sa.exists().where(
                _inbox.c.platform == platform,
                _inbox.c.conversation == conversation,
                _inbox.c.handled_at.is_(None),
                # Album parts wait for their album's last part: they are ordered by the collector.
                _inbox.c.media_group.is_(None),
                _before(update_id),
            )
        )
        async with self._sessions() as session, session.begin():
            return bool((await session.execute(query)).scalar())

    @asynccontextmanager
    async def ordered(self, platform: str, conversation: str, update_id: str) -> AsyncIterator[None]:
        """Wait for the conversation's earlier updates, then hold its lock while open."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._patience
        while await self._earlier(platform, conversation, update_id):
            if loop.time() > deadline:
                log.warning("update %s: an earlier one of its conversation is still unhandled", update_id)
                break
            await asyncio.sleep(self._poll)  # another process is handling the earlier update
        key = sa.func.hashtextextended(f"editbot:{platform}:{conversation}", 0)
        async with self._engine.connect() as connection:
            await connection.execute(sa.select(sa.func.pg_advisory_lock(key)))
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                await connection.commit()

    async def album(self, platform: str, media_group: str) -> list[StoredUpdate]:
        """The album's parts stored by any process and not handled yet, oldest first."""
        query = sa.select(_inbox).where(
            _inbox.c.platform == platform,
            _inbox.c.media_group == media_group,
            _inbox.c.handled_at.is_(None),
        )
        async with self._sessions() as session, session.begin():
            found = [
                StoredUpdate(
                    platform,
                    row.update_id,
                    dict(row.payload),
                    conversation=row.conversation,
                    media_group=row.media_group,
                )
                for row in await session.execute(query)
            ]
        return sorted(found, key=lambda u: (len(u.update_id), u.update_id))
