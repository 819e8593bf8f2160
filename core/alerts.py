"""Owner alerts: tell the bot owners (EDITBOT_ADMINS) what only they can fix, once, and when it is fixed.

The monitor listens to every edit-API outcome (:class:`core.telemetry.ApiListener`) and decides:

- the balance is used up (:class:`~core.errors.BalanceExhausted`), the key is rejected
  (:class:`~core.errors.AuthenticationFailed`), the model is retired
  (:class:`~core.errors.ModelUnavailable`): alert at once;
- the API keeps failing (server errors, timeouts, unreachable, unreadable answers, rate limits) with
  no success for ``outage_after``: alert once;
- the next successful edit closes every open alert: one "working again" message.

Invariants: an alert is sent once while it is open, and not again within ``cooldown`` of the last
one (a flapping API does not page anyone every few minutes); the :class:`AlertLedger` makes that
hold across processes sharing a database. Users' own mistakes (a refused prompt, a bad option)
are neither failures nor successes here. Alerts go to the owners only, by direct message on each
platform they are listed for, in English (the operator's language in README and settings).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core import errors
from core.actions import Text
from core.clock import utcnow as _utcnow
from core.identity import Platform, UserKey

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    """What the owners are told about; the catalog key is ``alert_<kind>``."""

    BALANCE = "balance"
    KEY = "key"
    MODEL = "model"
    OUTAGE = "outage"


# Checked in order: ModelUnavailable before anything broader.
_AT_ONCE: tuple[tuple[type[errors.EditAPIError], AlertKind], ...] = (
    (errors.BalanceExhausted, AlertKind.BALANCE),
    (errors.AuthenticationFailed, AlertKind.KEY),
    (errors.ModelUnavailable, AlertKind.MODEL),
)
# The API's trouble, not the user's: these count towards an outage.
_OUTAGE = (
    errors.ServerError,
    errors.APITimeout,
    errors.APIConnectionError,
    errors.BadResponse,
    errors.RateLimited,
)


class AlertLedger(Protocol):
    """Which alerts are open; shared by every process of the bot."""

    async def open(self, kind: str, now: datetime, cooldown: timedelta) -> bool:
        """Claim ``kind``: True when the caller must tell the owners."""
        ...

    async def resolve_all(self, now: datetime) -> tuple[str, ...]:
        """Close every open alert; the kinds this caller closed."""
        ...


class DirectMessenger(Protocol):
    """An adapter's way to write to one user privately (a Telegram chat, a Discord DM)."""

    async def direct(self, user: UserKey, text: Text) -> None:
        """Send ``text`` (English) to ``user`` privately."""
        ...


class MemoryAlertLedger:
    """An :class:`AlertLedger` for one process (tests, or no shared database)."""

    def __init__(self) -> None:
        self._opened: dict[str, datetime] = {}
        self._open: set[str] = set()

    async def open(self, kind: str, now: datetime, cooldown: timedelta) -> bool:
        """Claim ``kind`` unless it is open or was opened within ``cooldown``."""
        last = self._opened.get(kind)
        if kind in self._open or (last is not None and now - last < cooldown):
            return False
        self._opened[kind] = now
        self._open.add(kind)
        return True

    async def resolve_all(self, now: datetime) -> tuple[str, ...]:
        """Close every open alert."""
        closed = tuple(sorted(self._open))
        self._open.clear()
        return closed


class AlertMonitor:
    """Decides when the owners hear about the edit API, and tells them through the adapters."""

    def __init__(
        self,
        ledger: AlertLedger,
        owners: tuple[UserKey, ...],
        *,
        outage_after: timedelta = timedelta(minutes=10),
        cooldown: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ledger = ledger
        self._owners = owners
        self._outage_after = outage_after
        self._cooldown = cooldown
        self._clock = clock
        self._messengers: dict[Platform, DirectMessenger] = {}
        self._failing_since: datetime | None = None
        self._lock = asyncio.Lock()  # outcomes are judged in the order they happened
        self._pending: set[asyncio.Task[None]] = set()
        self.sent: list[tuple[UserKey, Text]] = []  # what was sent (for the operator's logs and tests)

    def attach(self, platform: Platform, messenger: DirectMessenger) -> None:
        """Register a platform's direct messenger (adapters call this on start)."""
        self._messengers[platform] = messenger

    def api_result(self, model: str, error: errors.EditAPIError | None) -> None:
        """:class:`core.telemetry.ApiListener`: judge the outcome in the background (never delays a job)."""
        if not self._owners:
            return
        task = asyncio.get_running_loop().create_task(self.observe(model, error), name="owner-alerts")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Wait for alerts being judged or sent."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def observe(self, model: str, error: errors.EditAPIError | None) -> None:
        """Judge one outcome; send what it calls for. Never raises."""
        try:
            async with self._lock:
                await self._judge(model, error)
        except Exception:
            log.warning("owner alerts: judging an API outcome failed", exc_info=True)

    async def _judge(self, model: str, error: errors.EditAPIError | None) -> None:
        now = self._clock()
        if error is None:
            self._failing_since = None
            if await self._ledger.resolve_all(now):
                await self._tell(Text("alert_recovered", {"model": model}))
            return
        for cls, kind in _AT_ONCE:
            if isinstance(error, cls):
                await self._raise(kind, now, {"model": model, "status": error.status or "-"})
                return
        if not isinstance(error, _OUTAGE):
            return
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since >= self._outage_after:
            minutes = max(1, round((now - self._failing_since).total_seconds() / 60))
            await self._raise(AlertKind.OUTAGE, now, {"minutes": minutes, "error": error.kind})

    async def _raise(self, kind: AlertKind, now: datetime, params: dict[str, object]) -> None:
        if await self._ledger.open(kind.value, now, self._cooldown):
            log.warning("owner alert: %s", kind.value)
            await self._tell(Text(f"alert_{kind.value}", params))

    async def _tell(self, text: Text) -> None:
        for owner in self._owners:
            messenger = self._messengers.get(owner.platform)
            if messenger is None:
                continue  # that platform's bot is not running in this process
            try:
                await messenger.direct(owner, text)
                self.sent.append((owner, text))
            except Exception:
                log.warning("owner alert %s could not reach %s", text.key, owner, exc_info=True)
