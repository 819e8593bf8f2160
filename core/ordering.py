"""One conversation's updates apply in order, whichever process received each (issue 14).

A webhook behind a load balancer hands a conversation's updates to different processes. Each
process keeps them in order among themselves (the adapters' per-user order); across processes a
:class:`ConversationGuard` (PostgreSQL: :mod:`core.storage.sql_ordering`) makes a process wait
until every earlier stored update of the conversation was handled, and then holds the
conversation's lock while it handles its own.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.storage.protocol import StoredUpdate


class ConversationGuard(Protocol):
    """Cross-process order and exclusion for one conversation's updates."""

    def ordered(self, platform: str, conversation: str, update_id: str) -> AbstractAsyncContextManager[None]:
        """Wait for the conversation's earlier updates, then hold its lock while open."""
        ...

    async def album(self, platform: str, media_group: str) -> list[StoredUpdate]:
        """The album's parts stored by any process and not handled yet, oldest first."""
        ...
