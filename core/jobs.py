"""Jobs: one edit from reservation to delivery, with refunds on every failure.

Invariants:
- A job is reserved (quota charged) before any paid call and is committed only after its result
  was delivered; every other ending refunds it, exactly once (the store guards the status).
- A job row is owned by this runner's ``worker_id`` while it runs and heart-beats; a job whose
  worker stopped beating (a crashed process) is refunded by whichever runner sweeps next, and its
  user is told.
- At most ``api_concurrency`` jobs of this process prepare or call the API at once; the others
  wait in FIFO order and are told their position.
- Crash safety (issue 10): every step that costs or shows something is recorded before the next
  one (``JobStage``: the call started, the API's images kept, each message of the result sent),
  so whichever process takes over a job (:mod:`core.resume`) delivers a stored result instead
  of paying again, completes a half-sent delivery instead of refunding it, and retries a cut-off
  call at most once. A job showing its result is never cancelled (``/cancel``, a stop).
- Fencing (issue 14): a job is run under the fencing token its claim got (``Job.claim``); every
  write of the run is conditional on it. Before the result or a preview is shown the lease must
  have been confirmed (a heartbeat or a fenced renewal) within half of ``stale_after`` on this
  process's monotonic clock, which counts time spent stalled; else it is renewed first. A worker
  that stalled past its lease while another took the job over (or ``/cancel`` ended it) stops at
  that point (:class:`LeaseLost`): it neither writes, charges, refunds nor sends anything more.
- A stop gives running jobs ``shutdown_grace`` seconds, then hands the rest back to the database
  for the next process (or refunds them and tells their users, with ``ResumeMode.REFUND``)
  while the bots can still send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core import errors
from core.actions import (
    DeliveredPart,
    Outbox,
    Phase,
    SendError,
    SendImage,
    SendText,
    Text,
    result_refs,
)
from core.call_starts import CallStarts
from core.catalogue import ModelCatalogue, ModelSpec
from core.clock import utcnow
from core.editapi import EditRequest, EditResult
from core.editapi.stream import PartialImage, PartialSink
from core.events import Origin, origin_from_json, origin_to_json
from core.i18n import explain
from core.identity import Platform, UserKey
from core.imaging import describe, prepare_inputs_async
from core.media import PreparedInputs
from core.outputs import choose_outputs
from core.progress import ProgressReporter
from core.quotas.costs import estimate_cost
from core.quotas.credits import CreditTable
from core.quotas.limits import LimitResolver
from core.quotas.rules import QuotaPolicy, format_time
from core.refs import FileFetcher, ImageRef
from core.results import full_size_offer, input_image, output_image, result_buttons, wants_file
from core.resume import ResumeMode, Resumption, plan
from core.storage.gate import background
from core.storage.protocol import CallStart, Job, JobStatus, LeaseLost, Store
from core.telemetry import Telemetry
from core.validation import EditSpec

log = logging.getLogger(__name__)

Preparer = Callable[[Sequence[bytes], bytes | None, ModelSpec, str | None], Awaitable[PreparedInputs]]


class EditService(Protocol):
    """The edit API as the runner sees it (``core.editapi.EditClient``)."""

    async def edit(self, request: EditRequest, on_partial: PartialSink | None = None) -> EditResult:
        """Run one edit; a model that streams sends its partial images to ``on_partial``."""
        ...


@dataclass(frozen=True, slots=True)
class JobConfig:
    """Tunables of the runner."""

    max_input_bytes: int = 20 * 1024 * 1024
    api_concurrency: int = 4
    progress_interval: float = 5.0
    heartbeat_interval: float = 20.0
    stale_after: float = 90.0
    pseudonym_secret: bytes = b"editbot"
    resume: ResumeMode = ResumeMode.RETRY
    shutdown_grace: float = 25.0
    preview_images: int = 2  # partial images a streamed edit asks for (the client's partial_images)
    full_size_hours: float = 24.0  # how long originals stay behind a "Full size" button; 0: sent at once


class JobRunner:
    """Runs edits in the background and reports through the platform's outbox."""

    def __init__(
        self,
        store: Store,
        editor: EditService,
        policy: QuotaPolicy,
        *,
        config: JobConfig | None = None,
        prepare: Preparer | None = None,
        clock: Callable[[], datetime] = utcnow,
        worker_id: str | None = None,
        credits: CreditTable | None = None,
        limits: LimitResolver | None = None,
        catalogue: ModelCatalogue | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._call_starts = CallStarts(store)
        self._editor = editor
        self.policy = policy
        self.credits = credits or CreditTable()
        self.catalogue = catalogue or ModelCatalogue()
        self.limits = limits or LimitResolver(store, policy)
        self.config = config or JobConfig()
        self._prepare: Preparer = prepare or self._default_prepare
        self._clock = clock
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self._outboxes: dict[Platform, Outbox] = {}
        self._fetchers: dict[Platform, FileFetcher] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._leases: dict[str, float] = {}  # job -> when (monotonic) its lease was last confirmed
        self._settling: set[str] = set()  # jobs showing their result; they finish within moments
        self._owners: dict[str, UserKey] = {}
        self._waiting: list[str] = []
        self._running = 0
        self._slots = asyncio.Condition()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self.telemetry = telemetry or Telemetry()  # logs, metrics, alerts (issue 13)

    def attach(self, platform: Platform, outbox: Outbox, fetcher: FileFetcher) -> None:
        """Register a platform's sender and file fetcher (adapters call this on start)."""
        self._outboxes[platform] = self.telemetry.outbox(outbox)
        self._fetchers[platform] = self.telemetry.fetcher(fetcher)

    async def start(self) -> None:
        """Resolve jobs a dead process left behind, then keep heart-beating and sweeping."""
        await self.recover()
        await self._store.drop_finished_results()  # what a process that died left behind
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="job-sweeper")

    async def stop(self, grace: float | None = None) -> None:
        """Stop: running jobs get ``grace`` seconds (default ``shutdown_grace``) to finish.

        Jobs still preparing or calling the API after that are handed back for the next process
        (or refunded and their users told, with ``ResumeMode.REFUND``); jobs showing their result
        finish it. Heartbeats go on meanwhile, so no other process takes a job over too early.
        """
        self._stopping = True
        grace = self.config.shutdown_grace if grace is None else grace
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        for job_id, task in list(self._tasks.items()):
            if job_id not in self._settling:
                task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        with contextlib.suppress(Exception):  # the next process's sweep does it otherwise
            await self._store.drop_finished_results()

    def now(self) -> datetime:
        """The runner's clock (UTC)."""
        return self._clock()

    @property
    def active(self) -> int:
        """Jobs of this process not yet finished."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Wait until every job of this process has finished (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def submit(
        self,
        origin: Origin,
        spec: EditSpec,
        idempotency_key: str,
        *,
        before_start: Callable[[], Awaitable[None]] | None = None,
    ) -> Job | None:
        """Reserve quota and start the job. None when the key was seen before (nothing charged again).

        ``before_start`` runs once the job row exists and before the job starts (Discord
        acknowledges the interaction there: a crash after the acknowledgement leaves a job to
        resume, never an acknowledged request with nothing behind it). When it raises, the job
        is refunded (cancelled) and the exception propagates.

        The edit's price (:class:`core.quotas.credits.CreditTable`) is reserved in every scope the
        resolver names (member, community, global; or user, global) in one transaction.
        Raises :class:`core.errors.Busy`, :class:`core.errors.Blocked` or a
        :class:`core.errors.QuotaExceeded` saying which: the user's (``QuotaInsufficient`` when
        some credits are left), the community's or the bot-wide cap's (``GlobalQuotaExceeded``).
        """
        # A redelivered update is answered by its first delivery: never "busy", never charged twice.
        seen, active = await self._store.seen_or_active(
            idempotency_key, str(origin.user.platform), origin.user.user_id
        )
        if seen:
            return None
        if await self._busy(origin.user, active):
            # Another process may have created this very job since the lookup above.
            if await self._store.job_by_key(idempotency_key) is not None:
                return None
            raise errors.Busy()
        scopes = await self.limits.scopes(origin)
        now = self._clock()
        # Run here: the job is stored already owned (no separate "running" write per edit).
        owned = self._runs_new_jobs_here()
        job = Job(
            id=uuid.uuid4().hex,
            idempotency_key=idempotency_key,
            platform=str(origin.user.platform),
            chat_id=origin.chat.chat_id,
            user_id=origin.user.user_id,
            community_id=origin.community.id if origin.community else None,
            origin=origin_to_json(origin),
            images=spec.images,
            mask=spec.mask,
            prompt=spec.prompt,
            model=spec.model,
            options=spec.options,
            credits=self.credits.for_edit(spec.model, spec.options),
            period_start=self.policy.period_start(now),
        )
        if owned:
            # Its first claim: the fencing token a takeover would bump.
            job = replace(
                job,
                status=JobStatus.RUNNING,
                worker_id=self.worker_id,
                started_at=now,
                heartbeat_at=now,
                claim=1,
            )
        try:
            job, created = await self._store.create_job(job, scopes)
        except errors.QuotaExceeded as exc:
            self.telemetry.refused(exc)
            reset = format_time(self.policy.next_reset(now), self.policy.timezone)
            raise _quota_refusal(exc, job.credits, reset) from None
        if not created:
            return None
        if before_start is not None:
            try:
                await before_start()
            except BaseException:
                # Not acknowledged (the platform gave up on the request and told the user): the
                # user will ask again, so this job must not run behind their back.
                await asyncio.shield(
                    self._store.fail(job.id, error_kind="unacknowledged", status=JobStatus.CANCELLED)
                )
                raise
        await self._dispatch(job, origin)
        return job

    async def _dispatch(self, job: Job, origin: Origin) -> None:
        """Run a new job in this process (a queue runner, :mod:`core.queue`, enqueues it instead)."""
        # Owned at once, so a crash while the job waits in the local queue is still recoverable
        # (``submit`` stores it owned, with its first fencing token; a job created otherwise is
        # taken here).
        taken = job.status is JobStatus.RUNNING and job.worker_id == self.worker_id
        if not taken and await self._store.mark_running(job.id, self.worker_id):
            job = replace(job, claim=job.claim + 1)  # the fencing token this claim got
        if self._stopping:
            # Stored and charged, but this process is on its way out: the next one runs it, and
            # the user hears so now (that status message is stored, for the next one to replace).
            progress = self._progress(job, origin)
            progress.update(Phase.QUEUED, Text("progress_paused"))
            await progress.flush()
            await self._store.release(job.id, self.worker_id)
            return
        self._start_task(job, origin)

    def _runs_new_jobs_here(self) -> bool:
        """Whether :meth:`_dispatch` runs new jobs in this process (a queue runner leaves them queued)."""
        return type(self)._dispatch is JobRunner._dispatch

    def _start_task(self, job: Job, origin: Origin) -> None:
        self._owners[job.id] = origin.user
        self._leases[job.id] = time.monotonic()
        self._tasks[job.id] = asyncio.create_task(self._run(job, origin), name=f"job-{job.id}")

    async def _busy(self, user: UserKey, active: list[Job]) -> bool:
        """True while the user has an edit that is not finished.

        A result reaches the user a moment before its job is committed; a user who answers that
        fast must not be told they are busy, so this process's jobs that are showing their result
        are waited for (they end within moments, delivered or refunded). ``active``: the user's
        unfinished jobs, as just read.
        """
        # Ours and showing the result, or ending this very moment (its task already gone: the
        # result is often the last step, so the user can answer within that moment).
        ending = [
            j
            for j in active
            if j.worker_id == self.worker_id and (j.id in self._settling or j.id not in self._tasks)
        ]
        if active and len(ending) == len(active):
            settling = [self._tasks[j.id] for j in ending if j.id in self._tasks]
            if settling:
                await asyncio.wait(settling, timeout=10)
            active = await self._store.active_jobs(user.platform, user.user_id)
        return bool(active)

    def cancel_user(self, user: UserKey) -> int:
        """Cancel the user's jobs in this process (refunded); the number cancelled.

        A job already showing its result is not cancelled: it was paid for and is being shown.
        """
        ids = [
            job_id for job_id, owner in self._owners.items() if owner == user and job_id not in self._settling
        ]
        for job_id in ids:
            self._tasks[job_id].cancel()
        return len(ids)

    async def cancel(self, user: UserKey) -> int:
        """``/cancel``: the user's jobs cancelled and refunded; the number cancelled."""
        return self.cancel_user(user)

    async def recover(self) -> int:
        """Take over jobs whose worker stopped beating and resume, retry or refund each
        (:func:`core.resume.plan`); the number taken over."""
        cutoff = self._clock() - timedelta(seconds=self.config.stale_after)
        recovered = 0
        for stale in await self._store.stale_jobs(cutoff):
            if stale.id in self._tasks or self._stopping:
                continue
            job = await self._store.claim(stale.id, self.worker_id, cutoff)
            if job is None:
                continue  # another process was faster, or the worker came back
            recovered += 1
            await self.resume(job, stale.worker_id)
        return recovered

    async def resume(self, job: Job, previous_worker: str | None) -> None:
        """Run, deliver or refund a job this runner just claimed (:func:`core.resume.plan`)."""
        origin = origin_from_json(job.origin)
        decision = plan(job, self.config.resume)
        if previous_worker is not None or job.attempts or job.stage.has_result:
            log.warning(
                "job %s was left unfinished by worker %s at %s (%d call(s)): %s",
                job.id,
                previous_worker,
                job.stage,
                job.attempts,
                decision,
            )
        if decision is Resumption.REFUND:
            progress = self._progress(job, origin)
            await self._finish_failed(job, origin, progress, "interrupted", {})
        else:
            self._start_task(job, origin)

    def _progress(self, job: Job, origin: Origin) -> ProgressReporter:
        async def remember(message_id: str | None) -> None:
            await self._store.set_status_message(job.id, message_id, claim=job.claim or None)

        outbox = self._outboxes.get(origin.user.platform)
        return ProgressReporter(
            outbox,
            origin,
            job.id,
            message_id=job.status_message,
            remember=remember,
            previews=self.config.preview_images,
        )

    async def _default_prepare(
        self, images: Sequence[bytes], mask: bytes | None, spec: ModelSpec, size: str | None
    ) -> PreparedInputs:
        return await prepare_inputs_async(
            images, mask, spec, size, max_input_bytes=self.config.max_input_bytes
        )

    async def _sweep_forever(self) -> None:
        background()  # heartbeats and recovery wait behind what users wait for
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            try:
                if self._tasks:
                    beating, beat_at = list(self._tasks), time.monotonic()
                    await self._store.heartbeat(beating, self.worker_id)
                    for job_id in beating:
                        if job_id in self._leases:
                            self._leases[job_id] = beat_at
                if not self._stopping:
                    await self.recover()
                await self._store.purge_full_size(self._clock())  # kept originals past their time
                await self._store.drop_finished_results()  # every job finished since, in one go
            except Exception:
                log.exception("job sweep failed; will try again")

    async def _notify(self, origin: Origin, action: SendError | SendText) -> None:
        outbox = self._outboxes.get(origin.user.platform)
        if outbox is None:
            return
        try:
            await outbox.send(action)
        except Exception:
            log.warning("could not tell %s about a job", origin.user, exc_info=True)

    async def _run(self, job: Job, origin: Origin) -> None:
        # A running job's bookkeeping waits behind the writes users wait for (taking in messages).
        background()
        self.telemetry.begin(job)
        progress = self._progress(job, origin)
        try:
            if job.stage.has_result:
                images = tuple(await self._store.job_result(job.id))
                self._settling.add(job.id)
                usage_tokens, cost = job.usage_tokens, job.estimated_cost
            else:
                await self._acquire_slot(job.id, progress)
                try:
                    result = await self._execute(job, origin, progress)
                finally:
                    await self._release_slot()
                images, usage_tokens, cost = (
                    result.images,
                    result.usage.total_tokens if result.usage else None,
                    _cost(self.catalogue.spec(result.model or job.model), job, result),
                )
                await self._store.save_result(
                    job.id, images, usage_tokens=usage_tokens, estimated_cost=cost, claim=job.claim or None
                )
            delivered, delivery = await self._deliver(job, origin, progress, images)
            credits = self.credits.for_result(job.model, job.options, len(images), job.credits)
            await self._store.succeed(
                job.id,
                credits=credits,
                usage_tokens=usage_tokens,
                estimated_cost=cost,
                result_refs=delivered,
                claim=job.claim or None,
                delivery=delivery,
            )
            self.telemetry.end("delivered", credits)
        except LeaseLost:
            await asyncio.shield(self._lost(job, progress))
        except asyncio.CancelledError:
            if self._stopping:
                await asyncio.shield(self._hand_back(job, origin, progress))
            else:
                await asyncio.shield(
                    self._finish_failed(job, origin, progress, "cancelled", {}, JobStatus.CANCELLED)
                )
            raise
        except errors.EditbotError as exc:
            kind, details = explain(exc)
            await self._finish_failed(job, origin, progress, kind, details)
        except Exception:
            log.exception("job %s failed unexpectedly", job.id)
            await self._finish_failed(job, origin, progress, "internal", {})
        finally:
            # This process may have claimed the job again meanwhile (its own lease ran out): the
            # new run's bookkeeping is not this one's to remove.
            if self._tasks.get(job.id) is asyncio.current_task():
                self._tasks.pop(job.id, None)
                self._owners.pop(job.id, None)
                self._leases.pop(job.id, None)
                self._settling.discard(job.id)

    async def _hold(self, job: Job) -> None:
        """Renew the job's lease (raising :class:`LeaseLost` when it is lost) unless a heartbeat
        confirmed it recently: a cheap check before anything the user would see."""
        if not job.claim:
            return
        if time.monotonic() - self._leases.get(job.id, 0.0) < self.config.stale_after / 2:
            return
        await self._store.renew(job.id, job.claim)
        self._leases[job.id] = time.monotonic()

    async def _lost(self, job: Job, progress: ProgressReporter) -> None:
        """Fenced out: another worker took the job over, or ``/cancel`` ended it. Stop without a
        write, a charge, a refund or a message; only a status message of this run that a
        cancel left on screen is removed."""
        current = await self._store.get_job(job.id)
        log.warning(
            "job %s: lease %d lost (now %s, worker %s); stopping without delivering",
            job.id,
            job.claim,
            current.status if current else None,
            current.worker_id if current else None,
        )
        if (
            current is not None
            and current.status is JobStatus.CANCELLED
            and current.worker_id == self.worker_id
            and not current.delivery
        ):
            await progress.close()
        else:
            await progress.handed_over()
        self.telemetry.end("lease_lost")

    async def _hand_back(self, job: Job, origin: Origin, progress: ProgressReporter) -> None:
        """A stop cut the job off before its result: the next process runs it, or it is refunded."""
        current = await self._store.get_job(job.id) or job
        if plan(current, self.config.resume) is Resumption.REFUND:
            await self._finish_failed(job, origin, progress, "interrupted", {})
            return
        progress.update(Phase.QUEUED, Text("progress_paused"))
        await progress.flush()
        await self._store.release(job.id, self.worker_id)
        self.telemetry.end("handed_back")
        log.info("job %s handed back for the next process", job.id)

    async def _finish_failed(
        self,
        job: Job,
        origin: Origin,
        progress: ProgressReporter,
        kind: str,
        details: dict[str, object],
        status: JobStatus = JobStatus.FAILED,
    ) -> None:
        current = await self._store.get_job(job.id)
        if current is not None and job.claim and current.claim != job.claim:
            await self._lost(job, progress)  # the job is another's now (or /cancel ended it)
            return
        if current is not None and any(p.message_id == progress.message_id for p in current.delivery):
            await progress.handed_over()  # the status message shows the result: it stays
        else:
            await progress.close()
        if current is not None and current.delivery and not current.status.finished:
            # Part of the result reached the user (the rest failed): it is theirs, and paid for.
            await self._store.succeed(
                job.id,
                credits=current.credits,
                usage_tokens=current.usage_tokens,
                estimated_cost=current.estimated_cost,
                result_refs=result_refs(current.delivery),
                claim=job.claim or None,
            )
            self.telemetry.end("delivered", current.credits)
            return
        self.telemetry.end(kind)
        if not await self._store.fail(job.id, error_kind=kind, status=status, claim=job.claim or None):
            return
        if kind == "cancelled":
            return  # the /cancel reply already said so
        await self._notify(origin, SendError(origin, kind, dict(details)))

    async def _acquire_slot(self, job_id: str, progress: ProgressReporter) -> None:
        async with self._slots:
            self._waiting.append(job_id)
            try:
                reported = 0
                while not (self._running < self.config.api_concurrency and self._waiting[0] == job_id):
                    position = self._waiting.index(job_id) + 1
                    if position != reported:
                        progress.update(Phase.QUEUED, Text("progress_queued", {"position": position}))
                        reported = position
                    await self._slots.wait()
                self._running += 1
            finally:
                self._waiting.remove(job_id)
                self._slots.notify_all()

    async def _release_slot(self) -> None:
        async with self._slots:
            self._running -= 1
            self._slots.notify_all()

    async def _execute(self, job: Job, origin: Origin, progress: ProgressReporter) -> EditResult:
        spec = self.catalogue.spec(job.model)
        # One status for the whole edit (preparing takes a tenth of a second): the first feedback,
        # edited again only when the phase changes, and replaced by the result.
        previews = job.options.previews is not False and self.config.preview_images > 0 and spec.stream
        several = (job.options.n or 1) > 1
        # Several results cannot stream: the status says why there is no live preview.
        progress.update(
            Phase.EDITING, Text("progress_editing_no_preview" if previews and several else "progress_editing")
        )
        # The inputs download and are prepared while the status message is being sent; its id is
        # stored with the call start, so a crash from there on leaves it to the next process to
        # replace or remove.
        shown = asyncio.ensure_future(progress.shown())
        try:
            inputs = await self._inputs(job, origin, spec)
        finally:
            await shown
        outbox = self._outboxes.get(origin.user.platform)
        outputs = choose_outputs(
            spec,
            job.options,
            inputs.size,
            outbox.upload_limit if outbox else None,
            # A file is sent as it came: a user who sent a screenshot as a file gets lossless PNG back.
            keeps_png=(outbox.keeps_png or wants_file(job)) if outbox else True,
            photo=inputs.images[0].content_type == "image/jpeg",
        )
        request = EditRequest(
            inputs=inputs,
            prompt=job.prompt,
            model=job.model,
            n=job.options.n or 1,
            quality=job.options.quality,
            user=origin.user.pseudonym(self.config.pseudonym_secret),
            input_fidelity=outputs.input_fidelity,
            background=outputs.background,
            output_format=outputs.output_format,
            output_compression=outputs.output_compression,
        )
        await self._call_starts.start(CallStart(job.id, job.claim or None, progress.message_id))

        async def preview(partial: PartialImage) -> None:
            await self._hold(job)  # a stalled worker's late previews must not cover the result
            await progress.preview(partial)

        # Asked for only while the platform could show one now. Under a burst its budget goes to
        # first feedback and results, so the previews would be dropped unseen; yet each is paid for
        # (the API bills partial images as output tokens) and read (up to megabytes of base64).
        live = previews and not several and outbox is not None and outbox.has_room_for_preview(origin)
        on_partial = preview if live else None
        result = await self._editor.edit(request, on_partial)
        # Paid for from here on: never cancelled again (see the module's invariants).
        self._settling.add(job.id)
        return result

    async def _inputs(self, job: Job, origin: Origin, spec: ModelSpec) -> PreparedInputs:
        """Download the job's images (and mask) and prepare them for ``spec``."""
        fetcher = self._fetchers.get(origin.user.platform)
        if fetcher is None:
            raise errors.EditbotError("no file fetcher for platform")
        limit = self.config.max_input_bytes
        now = self._clock()
        downloads = [input_image(self._store, fetcher, ref, limit, now) for ref in job.images]
        if job.mask is not None:
            downloads.append(fetcher.fetch(job.mask, limit))
        blobs = await asyncio.gather(*downloads)
        images, mask = (blobs[:-1], blobs[-1]) if job.mask is not None else (blobs, None)
        return await self._prepare(images, mask, spec, job.options.size)

    async def _deliver(
        self, job: Job, origin: Origin, progress: ProgressReporter, images: Sequence[bytes]
    ) -> tuple[tuple[ImageRef, ...], tuple[DeliveredPart, ...] | None]:
        """Show the result, recording each message sent; returns where the images now live, and
        the delivery for the commit to store when its final part is not stored yet.

        A final part (nothing follows it) is stored by the commit, which comes next: a crash
        between the two leaves the same window as one between sending and recording it.
        """
        results = tuple(
            await asyncio.gather(
                *(asyncio.to_thread(output_image, data, job.id, i) for i, data in enumerate(images))
            )
        )
        outbox = self._outboxes.get(origin.user.platform)
        if outbox is None:
            raise errors.EditbotError("no outbox for platform")
        # No "sending" phase: the result itself replaces the status (or follows it at once), and
        # nothing the user does not need first is awaited before the upload.
        await progress.settle()
        as_document = wants_file(job)
        offer = full_size_offer(self._store, job, images, self.config.full_size_hours, self._clock())
        recorded: list[DeliveredPart] = list(job.delivery)
        unstored: list[DeliveredPart] = []  # sent as the final part: stored with the commit

        async def record(part: DeliveredPart, final: bool = False) -> None:
            if final:
                unstored.append(part)
                recorded.append(part)
                return
            await self._store.record_delivery(job.id, part, before=recorded, claim=job.claim or None)
            recorded.append(part)
            unstored.clear()

        action = SendImage(
            origin,
            job.id,
            results,
            job.prompt,
            result_buttons(job.id),
            as_document,
            cutout=bool(job.options.cutout),
            delivered=job.delivery,
            record=record,
            status_message=progress.message_id,
            full_size=offer,
        )
        # Shown only under a lease that is ours, with at least half of it left for the upload
        # (a stored answer cannot be cancelled any more: only a takeover could end the lease).
        await self._hold(job)
        try:
            delivered = await outbox.send(action)
        except BaseException as exc:
            if unstored:  # shown, so paid for: the failure path must see it
                await asyncio.shield(
                    self._store.record_delivery(
                        job.id, unstored[-1], before=recorded[:-1], claim=job.claim or None
                    )
                )
            if isinstance(exc, errors.EditbotError | LeaseLost) or not isinstance(exc, Exception):
                raise
            log.warning("delivering job %s failed", job.id, exc_info=True)
            raise errors.DeliveryFailed() from exc
        if delivered is not None and delivered.status_replaced:
            await progress.handed_over()
        else:
            await progress.close()  # after the result: its removal never delays what the user waits for
        if not recorded and delivered is not None:
            # An outbox that does not record its parts (the console) delivered it in one go.
            await record(DeliveredPart("message", 0, delivered.message_id or "", delivered.images), True)
        refs = delivered.images if delivered is not None and delivered.images else result_refs(recorded)
        return refs, (tuple(recorded) if unstored else None)


def _quota_refusal(exc: errors.QuotaExceeded, needed: int, reset: str) -> errors.QuotaExceeded:
    """The store's refusal as the exception that says which quota ran out, and how short it is."""
    details = dict(exc.details)
    left = max(0, int(details.get("limit", 0)) - int(details.get("used", 0)))
    details.update(reset=reset, needed=needed, left=left)
    refusal: type[errors.QuotaExceeded]
    match details.get("scope"):
        case "global":
            refusal = errors.GlobalQuotaExceeded
        case "community":
            refusal = errors.CommunityQuotaExceeded
        case _ if left > 0:
            refusal = errors.QuotaInsufficient  # some credits left, just not enough for this edit
        case _:
            refusal = type(exc)
    return refusal(str(exc), **details)


def _cost(spec: ModelSpec, job: Job, result: EditResult) -> float | None:
    """The edit's estimated US dollars; never fails the job (it has been delivered)."""
    try:
        sizes = [describe(data)[:2] for data in result.images]
        return estimate_cost(spec, job.options.quality, sizes, result.usage)
    except Exception:
        log.warning("could not estimate the cost of job %s", job.id, exc_info=True)
        return None
