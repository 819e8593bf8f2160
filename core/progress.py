"""Progress of one job, coalesced: the adapter always gets the newest phase, never a backlog.

An edit can report progress faster than a platform lets a bot edit a message (Telegram allows
about one edit a second per chat). The reporter keeps only the latest state and sends it when
the previous send finished, so a slow platform sees fewer, fresher updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.actions import Outbox, Phase, SendProgress, Text
from core.events import Origin

log = logging.getLogger(__name__)


class ProgressReporter:
    """Sends :class:`SendProgress` for one job through an outbox, newest state first."""

    def __init__(self, outbox: Outbox | None, origin: Origin, job_id: str) -> None:
        self._outbox = outbox
        self._origin = origin
        self._job_id = job_id
        self._latest: SendProgress | None = None
        self._last_sent: tuple[Phase, Text] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def update(self, phase: Phase, text: Text) -> None:
        """Record the newest state; it is sent as soon as the previous send is done."""
        if self._outbox is None:
            return
        self._latest = SendProgress(self._origin, self._job_id, phase, text)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"progress-{self._job_id}")

    async def _run(self) -> None:
        assert self._outbox is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            action, self._latest = self._latest, None
            if action is None:
                continue
            if (action.phase, action.text) == self._last_sent:
                continue
            try:
                await self._outbox.send(action)
                self._last_sent = (action.phase, action.text)
            except Exception:  # a failed status update must never fail the edit itself
                log.warning("progress update for job %s failed", self._job_id, exc_info=True)
            if action.phase is Phase.DONE:
                return

    async def close(self) -> None:
        """Remove the status message (``Phase.DONE``) and wait until that is sent."""
        if self._task is None:
            return
        self.update(Phase.DONE, Text("progress_done"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
