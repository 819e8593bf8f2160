"""Progress of one job, coalesced: the adapter always gets the newest phase, never a backlog.

An edit can report progress faster than a platform lets a bot edit a message (Telegram allows
about one edit a second per chat). The reporter keeps only the latest state and sends it when
the previous send finished, so a slow platform sees fewer, fresher updates. Jobs report phase
changes (and true queue positions) only, never a ticking clock: each update costs a platform call
out of a budget that first feedback and results need more (issue 11).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from core.actions import Outbox, OutputImage, Phase, SendProgress, Text
from core.editapi.stream import PartialImage
from core.events import Origin
from core.imaging import ImageDescription, describe
from core.storage.gate import background

log = logging.getLogger(__name__)


def _decode(partial: PartialImage) -> tuple[bytes, ImageDescription]:
    data = partial.decode()
    return data, describe(data)


class ProgressReporter:
    """Sends :class:`SendProgress` for one job through an outbox, newest state first.

    The status message's id is kept with the job (``remember``), so a process that resumes the
    job edits or removes the message an earlier process left on screen.
    """

    def __init__(
        self,
        outbox: Outbox | None,
        origin: Origin,
        job_id: str,
        *,
        message_id: str | None = None,
        remember: Callable[[str | None], Awaitable[None]] | None = None,
        previews: int = 2,
    ) -> None:
        self._outbox = outbox
        self._origin = origin
        self._job_id = job_id
        self._message_id = message_id
        self._remember = remember
        self._latest: SendProgress | None = None
        self._last_sent: tuple[Phase, Text] | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._known = asyncio.Event()  # the status message exists
        self._task: asyncio.Task[None] | None = None
        self._previews = previews
        self._showing_preview = False
        self._editing = False  # the send in flight edits a status message that exists

    def update(self, phase: Phase, text: Text) -> None:
        """Record the newest state; it is sent as soon as the previous send is done.

        While a preview is on screen only the next preview (or the end) replaces it: a ticking
        text would hide the picture the user is watching.
        """
        if self._showing_preview and phase is not Phase.DONE:
            return
        self._push(SendProgress(self._origin, self._job_id, phase, text))

    async def preview(self, partial: PartialImage) -> None:
        """Show a partial image the model sent (an edit's ``on_partial`` sink; never blocks the stream).

        Only the newest one is sent when the platform is slower than the model: previews are the
        first thing to drop, before they are decoded when the platform's budget has no room.
        """
        if self._outbox is None or not self._outbox.has_room_for_preview(self._origin):
            return
        data, (width, height, content_type, ext) = await asyncio.to_thread(_decode, partial)
        image = OutputImage(data, f"preview-{partial.index + 1}.{ext}", content_type, width, height)
        step = min(partial.index + 1, self._previews)
        text = Text("progress_painting", {"step": step, "total": max(self._previews, step)})
        self._showing_preview = True
        self._push(SendProgress(self._origin, self._job_id, Phase.EDITING, text, image=image))

    def _push(self, action: SendProgress) -> None:
        if self._outbox is None:
            return
        self._latest = action
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"progress-{self._job_id}")

    async def _run(self) -> None:
        assert self._outbox is not None
        background()  # storing the status message's id: the message itself is already on screen
        while True:
            if self._latest is None:
                self._idle.set()
            await self._wake.wait()
            self._wake.clear()
            action, self._latest = self._latest, None
            if action is None:
                continue
            if (action.phase, action.text) == self._last_sent and action.image is None:
                continue
            self._editing = self._message_id is not None and action.phase is not Phase.DONE
            try:
                await self._send(replace(action, message_id=self._message_id))
                self._last_sent = (action.phase, action.text)
            except Exception:  # a failed status update must never fail the edit itself
                log.warning("progress update for job %s failed", self._job_id, exc_info=True)
            finally:
                self._editing = False
            if action.phase is Phase.DONE:
                self._idle.set()
                return

    async def _send(self, action: SendProgress) -> None:
        assert self._outbox is not None
        delivered = await self._outbox.send(action)
        if action.phase is Phase.DONE:
            if self._message_id is not None:
                self._message_id = None
                await self._store(None)
            return
        new_id = delivered.message_id if delivered is not None else None
        if new_id is not None and new_id != self._message_id:
            self._message_id = new_id
            self._known.set()  # the job's call start stores it too (see shown)
            await self._store(new_id)

    async def _store(self, message_id: str | None) -> None:
        if self._remember is not None:
            await self._remember(message_id)

    @property
    def message_id(self) -> str | None:
        """The status message on screen, if any (the result may take its place)."""
        return self._message_id

    async def handed_over(self) -> None:
        """The status message became the result: it is never removed, and nothing more is sent.

        Its id stays stored with the job (no write): it names a recorded part of the result now,
        which is how a resumed job knows not to remove it.
        """
        self._outbox = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def shown(self) -> None:
        """Wait until the status message exists (not for later edits of it: those may wait
        behind other users' first feedback on a busy platform). Its id is stored by this
        reporter, in the background; a job stores it with its call start (which must not wait
        behind a burst's bookkeeping)."""
        if self._message_id is not None or self._task is None:
            return
        waits = {asyncio.ensure_future(self._known.wait()), asyncio.ensure_future(self._idle.wait())}
        try:
            await asyncio.wait(waits, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def settle(self) -> None:
        """Drop an update not yet sent, and one being sent if it only edits the status (the
        result comes next and replaces it); wait for the status message's creation.

        Under a burst an edit or preview waits in the platform's progress lane behind other
        users' first feedback and results: the result must not wait behind its own preview.
        """
        self._latest = None
        if self._editing and self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._idle.set()
            return
        await self.flush()

    async def flush(self) -> None:
        """Wait until the newest state was sent (the message stays; a graceful stop's last word)."""
        if self._task is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._idle.wait()), timeout=30)

    async def detach(self) -> None:
        """Send the newest state, then stop sending; the message stays on screen for whichever
        process takes the job on (a gateway that enqueued it, issue 14)."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        """Remove the status message (``Phase.DONE``) and wait until that is sent."""
        if self._outbox is None or (self._task is None and self._message_id is None):
            return
        self.update(Phase.DONE, Text("progress_done"))
        assert self._task is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._task), timeout=30)
