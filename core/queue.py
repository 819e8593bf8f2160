"""Jobs through a shared queue (issue 14): gateways enqueue, workers claim, any worker finishes any job.

Roles (``editbot run --role``):
- ``gateway``: takes updates and interactions in, reserves quota and stores the job as
  ``queued`` (the same :meth:`JobRunner.submit`), shows the user their place in the queue and
  wakes the workers. It never runs a job, and never takes over one.
- ``worker``: claims waiting jobs (:class:`JobQueue`, fair across communities, FIFO per user) up
  to ``concurrency`` at once, runs them like the in-process runner and heart-beats them (the
  lease). A job whose worker died or stopped is claimed again by another worker and resumed by
  the one rule for interrupted jobs (:func:`core.resume.plan`): delivered, retried once, or
  refunded; never paid or charged twice.

Invariants:
- the job row is the only state: what is queued, who runs it and how far it got are columns;
- a worker wakes on a notification, on a finished job of its own (a free slot) and every
  ``poll_interval`` seconds (a lost notification or a dead worker's lease only delays);
- a worker that is stopping claims nothing more;
- every claim bumps the job's fencing token (``Job.claim``): a worker that stalled past its lease
  stops at its next fenced write instead of delivering a job another worker took over;
- live positions: when the queue moves (a claim, a new job, a cancel) the process that moved it
  asks the queue which waiting jobs' place in line changed (:meth:`JobQueue.moved`: each change
  goes to exactly one process) and edits their status messages on the progress lane, newest
  number per job (a short budget merges them), and never over a job that left the queue; one
  job's place is shown by one process at a time (:meth:`JobQueue.showing`), so an older number
  never reaches the chat after a newer one;
- ``/cancel`` at any gateway reaches the user's jobs in the table: waiting or running, they are
  cancelled and refunded in one statement (:meth:`Store.cancel_unanswered`); a worker running one
  sees it at its next fenced write and stops. A job whose result is stored is never cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core.actions import Phase, SendProgress, Text
from core.events import Origin, origin_from_json
from core.identity import UserKey
from core.jobs import JobRunner
from core.storage.protocol import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Moved:
    """A waiting job whose place in line changed: its status message should show ``position``."""

    job_id: str
    origin: dict[str, Any]
    status_message: str
    position: int


class Role(StrEnum):
    """What one ``editbot run`` process does."""

    ALL = "all"  # take updates in and run their jobs in this process (one process, or SQLite)
    GATEWAY = "gateway"  # take updates in, answer at once, enqueue jobs
    WORKER = "worker"  # claim jobs, call the API, deliver results

    @property
    def takes_updates(self) -> bool:
        """True when the process connects to the platforms to receive updates."""
        return self is not Role.WORKER

    @property
    def runs_jobs(self) -> bool:
        """True when the process calls the edit API."""
        return self is not Role.GATEWAY


class JobQueue(Protocol):
    """The shared queue as the runner sees it (:class:`core.storage.sql_queue.SqlQueue`)."""

    async def claim(self, worker_id: str, limit: int, stale_before: datetime) -> list[tuple[Job, str | None]]:
        """Take up to ``limit`` waiting jobs for ``worker_id``, each with its previous worker."""
        ...

    async def position(self, job_id: str, stale_before: datetime) -> int | None:
        """The job's place in the queue (1 = next), or None when it is not waiting."""
        ...

    async def notify(self) -> None:
        """Wake the workers."""
        ...

    async def moved(self, stale_before: datetime) -> list[Moved]:
        """Waiting jobs whose place in line changed since their status message showed it."""
        ...

    def showing(self, job_id: str, position: int) -> AbstractAsyncContextManager[bool]:
        """While open, no other process shows this job's place; yields whether ``position`` is
        still the one to show (the job waits and no newer number was recorded)."""
        ...

    def listening(self, wake: asyncio.Event) -> AbstractAsyncContextManager[None]:
        """Set ``wake`` whenever a job is enqueued, while open."""
        ...


class QueueRunner(JobRunner):
    """A :class:`JobRunner` whose jobs go through the shared queue instead of this process's."""

    def __init__(
        self,
        *args: Any,
        queue: JobQueue,
        role: Role,
        concurrency: int,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        if role is Role.ALL:
            raise ValueError("role 'all' runs jobs in process: use JobRunner")
        super().__init__(*args, **kwargs)
        self.queue = queue
        self.role = role
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._claimer: asyncio.Task[None] | None = None
        self._listening: contextlib.AsyncExitStack | None = None
        self._queue_moved = asyncio.Event()
        self._positions: dict[str, Moved] = {}  # newest place in line to show, per waiting job
        self._repositioner: asyncio.Task[None] | None = None

    def _stale_before(self) -> datetime:
        return self.now() - timedelta(seconds=self.config.stale_after)

    async def start(self) -> None:
        """Gateways only heart-beat nothing; workers listen and claim until stopped. Both keep
        the places in line their users see up to date."""
        self._repositioner = asyncio.create_task(self._reposition_forever(), name="queue-positions")
        if not self.role.runs_jobs:
            return
        self._listening = contextlib.AsyncExitStack()
        await self._listening.enter_async_context(self.queue.listening(self._wake))
        self._wake.set()
        self._claimer = asyncio.create_task(self._claim_forever(), name="job-claimer")
        await super().start()

    async def stop(self, grace: float | None = None) -> None:
        """Claim nothing more, then stop as the in-process runner does (grace, hand-back)."""
        self._stopping = True
        if self._repositioner is not None:
            self._repositioner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._repositioner
            self._repositioner = None
        if self._claimer is not None:
            self._claimer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._claimer
            self._claimer = None
        if self._listening is not None:
            await self._listening.aclose()
            self._listening = None
        await super().stop(grace)

    async def recover(self) -> int:
        """The sweeper's poll: wake the claimer (it takes over expired leases with the queue)."""
        self._wake.set()
        return 0

    async def cancel(self, user: UserKey) -> int:
        """``/cancel`` here: the user's jobs in this process, and theirs in the queue whichever
        process holds them (refunded; their status messages removed); the number cancelled."""
        local = self.cancel_user(user)
        cancelled = await self._store.cancel_unanswered(str(user.platform), user.user_id)
        for job in cancelled:
            if job.id in self._tasks or job.status_message is None:
                continue  # a task of ours removes its own status message
            # The job is finished: the reporter must not try to store anything with it.
            await self._progress(replace(job, claim=0), origin_from_json(job.origin)).close()
        if cancelled:
            self._queue_moved.set()
        log.info("/cancel by %s: %d job(s) in the queue, %d here", user, len(cancelled), local)
        return max(local, len(cancelled))

    async def _dispatch(self, job: Job, origin: Origin) -> None:
        """Leave the job queued for a worker: tell the user their place, wake the workers."""
        progress = self._progress(job, origin)
        position = await self.queue.position(job.id, self._stale_before())
        progress.update(Phase.QUEUED, Text("progress_queued", {"position": position or 1}))
        await progress.detach()
        await self.queue.notify()
        self._wake.set()
        self._queue_moved.set()  # a new lane's first job goes ahead of others' backlogs

    def _start_task(self, job: Job, origin: Origin) -> None:
        super()._start_task(job, origin)
        # A finished job frees a slot: look for the next one at once.
        self._tasks[job.id].add_done_callback(lambda _task: self._wake.set())

    async def _claim_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self.claim_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming jobs failed; will try again")

    async def claim_once(self) -> int:
        """Claim as many waiting jobs as there are free slots and start them; the number claimed."""
        free = self.concurrency - self.active
        if free <= 0 or self._stopping:
            return 0
        claimed = await self.queue.claim(self.worker_id, free, self._stale_before())
        if claimed:
            self._queue_moved.set()
        for job, previous in claimed:
            await self.resume(job, previous)
        if len(claimed) == free:
            self._wake.set()  # there may be more: look again once a slot frees
        return len(claimed)

    async def _reposition_forever(self) -> None:
        """Edit the places in line that changed, whenever this process moved the queue."""
        while True:
            await self._queue_moved.wait()
            self._queue_moved.clear()
            try:
                for moved in await self.queue.moved(self._stale_before()):
                    self._positions[moved.job_id] = moved  # a newer number replaces one not yet sent
                await self._show_positions()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("updating queue positions failed; will try again", exc_info=True)

    async def _show_positions(self) -> None:
        """Send the pending positions, oldest change first, skipping jobs that left the queue and
        numbers another process has since replaced with newer ones."""
        # Triggers that arrive while these are sent are merged into one refresh after them: a
        # short budget (a slow progress lane) means fewer, newer numbers, never a backlog.
        while self._positions:
            pending, self._positions = self._positions, {}
            for moved in pending.values():
                origin = origin_from_json(moved.origin)
                outbox = self._outboxes.get(origin.user.platform)
                if outbox is None:
                    continue
                text = Text("progress_queued", {"position": moved.position})
                action = SendProgress(
                    origin, moved.job_id, Phase.QUEUED, text, message_id=moved.status_message
                )
                try:
                    async with self.queue.showing(moved.job_id, moved.position) as current:
                        if current:
                            await outbox.send(action)
                except Exception:
                    log.warning("could not show job %s its place in line", moved.job_id, exc_info=True)
