"""What a bot adapter needs from the process that runs it: a protocol, so adapters never import ``bots``.

``bots.bootstrap.Core`` is the implementation; the runners (``adapters/*/runner.py``) take any
object with these members, which keeps dependencies pointing down (bots -> adapters -> core).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from core.actions import Outbox
from core.alerts import AlertMonitor
from core.engine import ConversationEngine
from core.identity import Platform
from core.jobs import JobRunner
from core.ordering import ConversationGuard
from core.ratelimit import SharedBudget
from core.refs import FileFetcher
from core.storage.protocol import Store
from core.telemetry import Telemetry


class Host(Protocol):
    """The running core as adapters see it."""

    @property
    def store(self) -> Store:
        """Where conversations, jobs and the Telegram inbox live."""
        ...

    @property
    def runner(self) -> JobRunner:
        """Runs edits; adapters attach their outbox and fetcher to it."""
        ...

    @property
    def engine(self) -> ConversationEngine:
        """The one call adapters make for every event."""
        ...

    @property
    def telemetry(self) -> Telemetry:
        """Logs, metrics and alerts of platform calls."""
        ...

    @property
    def alerts(self) -> AlertMonitor:
        """Tells the owners what only they can fix; adapters attach a direct messenger to it."""
        ...

    @property
    def guard(self) -> ConversationGuard | None:
        """Keeps a conversation's updates in order across processes (PostgreSQL), when there are several."""
        ...

    @property
    def budget(self) -> SharedBudget | None:
        """Platform rate budgets shared by several processes, when there are several."""
        ...

    def attach(self, platform: Platform, outbox: Outbox, fetcher: FileFetcher) -> None:
        """Register a platform's sender and file fetcher for jobs (and the painter)."""
        ...

    def on_stop_intake(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Register how to stop taking updates when the process stops."""
        ...
