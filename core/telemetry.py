"""Telemetry: what happened to each job and to the edit API, for logs, metrics and owner alerts.

The job runner says only when a job begins and ends (:meth:`Telemetry.begin`, :meth:`Telemetry.end`)
and wraps what it is given (outboxes, fetchers; :meth:`Telemetry.editor` is wrapped in ``bots``).
Phases are measured by those wrappers, which find their job through a context variable that
``begin`` sets in the job's task (asyncio copies it into every task the job starts), so the runner
needs no bookkeeping of its own.

Invariants:
- Exactly one INFO line per job that began, when it ends: ids, platform, model, size, phase
  durations, outcome and credits. Never the prompt (DEBUG only), a token, a key or image bytes.
- Sinks and listeners never fail a job: their exceptions are logged and swallowed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from core.actions import Action, Delivered, Outbox, Phase, SendImage, SendProgress
from core.editapi import EditRequest, EditResult
from core.editapi.stream import PartialSink
from core.errors import EditAPIError, EditbotError
from core.events import Origin
from core.refs import FileFetcher, ImageRef
from core.storage.protocol import Job

log = logging.getLogger("editbot.jobs")

PHASES = ("queued", "preparing", "editing", "sending")


@dataclass(slots=True)
class JobTrace:
    """One job's timeline (monotonic seconds) and what it was asked for."""

    job_id: str
    platform: str
    model: str
    size: str
    started: float
    phase: str = "queued"
    marks: dict[str, float] = field(default_factory=dict)  # phase -> when it began
    durations: dict[str, float] = field(default_factory=dict)  # phase -> seconds spent
    feedback_at: float | None = None

    def enter(self, phase: str, now: float) -> None:
        """Close the current phase and start ``phase`` (a repeated phase adds up)."""
        if phase == self.phase:
            return
        self.durations[self.phase] = self.durations.get(self.phase, 0.0) + now - self.marks[self.phase]
        self.phase = phase
        self.marks[phase] = now


class TelemetrySink(Protocol):
    """Where measurements go (``bots.metrics`` implements it with Prometheus)."""

    def job_finished(self, trace: JobTrace, outcome: str, credits: int) -> None:
        """A job ended with ``outcome`` (``delivered`` or an error kind), charging ``credits``."""
        ...

    def jobs_pending(self, queued: int, in_flight: int) -> None:
        """The number of this process's jobs waiting for a slot, and of those begun and not ended."""
        ...

    def api_call(self, model: str, seconds: float, outcome: str) -> None:
        """One edit-API call took ``seconds`` and ended with ``outcome`` (``ok`` or an error kind)."""
        ...

    def first_feedback(self, platform: str, seconds: float) -> None:
        """The first progress message of a job reached its user ``seconds`` after the job began."""
        ...

    def quota_refused(self, scope: str) -> None:
        """An edit was refused because the ``scope``'s credits are used up."""
        ...

    def platform_error(self, platform: str, method: str) -> None:
        """A platform API call (``method``) failed."""
        ...

    def rate_limit_wait(self, platform: str, seconds: float) -> None:
        """A platform call waited ``seconds`` for the rate limiter."""
        ...


class ApiListener(Protocol):
    """Told about every edit-API outcome (owner alerts)."""

    def api_result(self, model: str, error: EditAPIError | None) -> None:
        """``error`` is None for a success."""
        ...


_current: ContextVar[JobTrace | None] = ContextVar("editbot_job_trace", default=None)


class Telemetry:
    """Collects job and API events and fans them out to sinks and listeners."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sinks: list[TelemetrySink] = []
        self._listeners: list[ApiListener] = []
        self._open: dict[str, JobTrace] = {}

    def add_sink(self, sink: TelemetrySink) -> None:
        """Send measurements to ``sink`` as well."""
        self._sinks.append(sink)

    def add_listener(self, listener: ApiListener) -> None:
        """Tell ``listener`` about every edit-API outcome."""
        self._listeners.append(listener)

    # -- the job runner's hooks --------------------------------------------------------------
    def begin(self, job: Job) -> None:
        """Call first thing in the job's own task: starts its trace (phase ``queued``)."""
        now = self._clock()
        trace = JobTrace(job.id, job.platform, job.model, job.options.size or "default", now)
        trace.marks["queued"] = now
        self._open[job.id] = trace
        _current.set(trace)
        log.debug("job %s begins; prompt: %s", job.id[:8], job.prompt, extra={"job_id": job.id})
        self._pending()

    def end(self, outcome: str, credits: int = 0) -> None:
        """The current job ended: log its one line, tell the sinks."""
        trace = _current.get()
        if trace is None or self._open.pop(trace.job_id, None) is None:
            return
        now = self._clock()
        trace.enter("done", now)
        total = now - trace.started
        phases = {f"{p}_s": round(trace.durations.get(p, 0.0), 3) for p in PHASES}
        log.info(
            "job %s %s: %s %s %s, %d credits, %s, total %.2fs",
            trace.job_id[:8],
            outcome,
            trace.platform,
            trace.model,
            trace.size,
            credits,
            " ".join(f"{p} {trace.durations.get(p, 0.0):.2f}s" for p in PHASES),
            total,
            extra={
                "job_id": trace.job_id,
                "platform": trace.platform,
                "model": trace.model,
                "size": trace.size,
                "outcome": outcome,
                "credits": credits,
                "total_s": round(total, 3),
                **phases,
            },
        )
        self._emit(lambda s: s.job_finished(trace, outcome, credits))
        self._pending()

    def refused(self, error: EditbotError) -> None:
        """An edit was refused for quota; ``error.details['scope']`` names whose."""
        scope = str(error.details.get("scope") or "unknown")
        self._emit(lambda s: s.quota_refused(scope))

    def outbox(self, outbox: Outbox) -> Outbox:
        """``outbox`` that also times progress (first feedback) and delivery of the current job."""
        return _TracedOutbox(self, outbox)

    def fetcher(self, fetcher: FileFetcher) -> FileFetcher:
        """``fetcher`` whose first download for a job marks the end of its wait for a slot."""
        return _TracedFetcher(self, fetcher)

    def editor(self, editor: _Editor) -> _Editor:
        """``editor`` timed per call and model; outcomes also go to the API listeners."""
        return _TracedEditor(self, editor)

    # -- adapters' hooks ---------------------------------------------------------------------
    def platform_error(self, platform: str, method: str) -> None:
        """A platform API call failed."""
        self._emit(lambda s: s.platform_error(platform, method))

    def rate_limit_wait(self, platform: str, seconds: float) -> None:
        """A platform call was held back by the rate limiter."""
        self._emit(lambda s: s.rate_limit_wait(platform, seconds))

    # -- inside ----------------------------------------------------------------------------
    def _mark(self, phase: str) -> JobTrace | None:
        """The current job enters ``phase``; its trace (None outside a job)."""
        trace = _current.get()
        if trace is None or trace.job_id not in self._open:
            return None
        queued_before = trace.phase == "queued"
        trace.enter(phase, self._clock())
        if queued_before and phase != "queued":
            self._pending()
        return trace

    @contextmanager
    def _phase(self, phase: str, after: str | None = None) -> Iterator[JobTrace | None]:
        trace = self._mark(phase)
        try:
            yield trace
        finally:
            if after is not None:
                self._mark(after)

    def _first_feedback(self) -> None:
        trace = _current.get()
        if trace is None or trace.feedback_at is not None or trace.job_id not in self._open:
            return
        trace.feedback_at = self._clock()
        seconds = trace.feedback_at - trace.started
        self._emit(lambda s: s.first_feedback(trace.platform, seconds))

    def _api(self, model: str, seconds: float, error: EditAPIError | None, outcome: str) -> None:
        self._emit(lambda s: s.api_call(model, seconds, outcome))
        for listener in self._listeners:
            try:
                listener.api_result(model, error)
            except Exception:
                log.warning("an API listener failed", exc_info=True)

    def _pending(self) -> None:
        queued = sum(1 for t in self._open.values() if t.phase == "queued")
        self._emit(lambda s: s.jobs_pending(queued, len(self._open)))

    def _emit(self, call: Callable[[TelemetrySink], None]) -> None:
        for sink in self._sinks:
            try:
                call(sink)
            except Exception:
                log.warning("a telemetry sink failed", exc_info=True)


class _Editor(Protocol):
    async def edit(self, request: EditRequest, on_partial: PartialSink | None = None) -> EditResult: ...


class _TracedEditor:
    def __init__(self, telemetry: Telemetry, editor: _Editor) -> None:
        self._telemetry = telemetry
        self._editor = editor

    async def edit(self, request: EditRequest, on_partial: PartialSink | None = None) -> EditResult:
        t = self._telemetry
        with t._phase("editing", after="sending") as trace:
            if trace is not None and request.inputs.size:
                trace.size = request.inputs.size
            started = t._clock()
            try:
                result = await self._editor.edit(request, on_partial)
            except EditAPIError as exc:
                t._api(request.model, t._clock() - started, exc, exc.kind)
                raise
            except EditbotError as exc:
                t._api(request.model, t._clock() - started, None, exc.kind)
                raise
            t._api(request.model, t._clock() - started, None, "ok")
            return result


class _TracedFetcher:
    def __init__(self, telemetry: Telemetry, fetcher: FileFetcher) -> None:
        self._telemetry = telemetry
        self._fetcher = fetcher

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        trace = _current.get()
        if trace is not None and trace.phase == "queued":  # the first download: the job got its slot
            self._telemetry._mark("preparing")
        return await self._fetcher.fetch(ref, max_bytes)


class _TracedOutbox:
    def __init__(self, telemetry: Telemetry, outbox: Outbox) -> None:
        self._telemetry = telemetry
        self._outbox = outbox
        self.upload_limit = outbox.upload_limit
        self.keeps_png = outbox.keeps_png

    async def send(self, action: Action) -> Delivered | None:
        if isinstance(action, SendImage) and action.job_id:
            with self._telemetry._phase("sending"):
                return await self._outbox.send(action)
        result = await self._outbox.send(action)
        if isinstance(action, SendProgress) and action.phase is not Phase.DONE:  # DONE only removes it
            self._telemetry._first_feedback()
        return result

    def has_room_for_preview(self, origin: Origin) -> bool:
        return self._outbox.has_room_for_preview(origin)

    def __getattr__(self, name: str) -> object:
        # Adapters' own methods (e.g. Discord's ``answer``) stay reachable through the wrapper.
        return getattr(self._outbox, name)
