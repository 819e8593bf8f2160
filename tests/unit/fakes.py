"""Hand-written in-memory fakes of what the engine depends on (store, edit API, platform)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from core import errors
from core.actions import Action, Delivered, SendImage
from core.editapi import EditRequest, EditResult, Usage
from core.events import EditOptions
from core.identity import Platform
from core.refs import ImageRef
from core.store import (
    Conversation,
    ConversationKey,
    Job,
    JobStatus,
    QuotaScope,
    UsageSnapshot,
)


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


class FakeStore:
    """The Store protocol in memory, with the same quota and idempotency rules as SqlStore."""

    def __init__(self, clock: Any = None) -> None:
        self.conversations: dict[ConversationKey, Conversation] = {}
        self.jobs: dict[str, Job] = {}
        self.scopes: dict[str, tuple[QuotaScope, ...]] = {}
        self.counters: dict[tuple[str, str, datetime], int] = {}
        self.prefs: dict[tuple[str, str], EditOptions] = {}
        self.clock = clock or (lambda: datetime.now(UTC))

    async def get_conversation(self, key: ConversationKey) -> Conversation | None:
        return self.conversations.get(key)

    async def save_conversation(self, conversation: Conversation) -> None:
        self.conversations[conversation.key] = replace(conversation, updated_at=self.clock())

    async def delete_conversation(self, key: ConversationKey) -> None:
        self.conversations.pop(key, None)

    async def create_job(self, job: Job, scopes: tuple[QuotaScope, ...]) -> tuple[Job, bool]:
        for existing in self.jobs.values():
            if existing.idempotency_key == job.idempotency_key:
                return existing, False
        for scope in scopes:
            used = self.counters.get((scope.kind, scope.key, job.period_start), 0)
            if used + job.credits > scope.limit:
                raise errors.QuotaExceeded(scope=scope.kind, used=used, limit=scope.limit)
        for scope in scopes:
            k = (scope.kind, scope.key, job.period_start)
            self.counters[k] = self.counters.get(k, 0) + job.credits
        job = replace(job, created_at=self.clock())
        self.jobs[job.id] = job
        self.scopes[job.id] = scopes
        return job, True

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def mark_running(self, job_id: str, worker_id: str) -> bool:
        job = self.jobs[job_id]
        if job.status is not JobStatus.QUEUED:
            return False
        now = self.clock()
        self.jobs[job_id] = replace(
            job, status=JobStatus.RUNNING, worker_id=worker_id, started_at=now, heartbeat_at=now
        )
        return True

    async def heartbeat(self, job_ids: list[str], worker_id: str) -> None:
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job and job.worker_id == worker_id and not job.status.finished:
                self.jobs[job_id] = replace(job, heartbeat_at=self.clock())

    async def succeed(
        self,
        job_id: str,
        *,
        credits: int,
        usage_tokens: int | None,
        estimated_cost: float | None,
        result_refs: tuple[ImageRef, ...],
    ) -> bool:
        job = self.jobs[job_id]
        if job.status.finished:
            return False
        self._adjust(job, credits - job.credits)
        self.jobs[job_id] = replace(
            job,
            status=JobStatus.SUCCEEDED,
            credits=credits,
            usage_tokens=usage_tokens,
            estimated_cost=estimated_cost,
            result_refs=result_refs or job.result_refs,
            finished_at=self.clock(),
        )
        return True

    async def fail(self, job_id: str, *, error_kind: str, status: JobStatus = JobStatus.FAILED) -> bool:
        job = self.jobs[job_id]
        if job.status.finished:
            return False
        self._adjust(job, -job.credits)
        self.jobs[job_id] = replace(job, status=status, error_kind=error_kind, finished_at=self.clock())
        return True

    def _adjust(self, job: Job, delta: int) -> None:
        for scope in self.scopes[job.id]:
            k = (scope.kind, scope.key, job.period_start)
            self.counters[k] = max(0, self.counters.get(k, 0) + delta)

    async def set_result_refs(self, job_id: str, refs: tuple[ImageRef, ...]) -> None:
        self.jobs[job_id] = replace(self.jobs[job_id], result_refs=refs)

    async def active_jobs(self, platform: str, user_id: str) -> list[Job]:
        return [
            j
            for j in self.jobs.values()
            if j.platform == platform and j.user_id == user_id and not j.status.finished
        ]

    async def stale_jobs(self, heartbeat_before: datetime) -> list[Job]:
        return [
            j
            for j in self.jobs.values()
            if not j.status.finished
            and (j.heartbeat_at or j.created_at or heartbeat_before) < heartbeat_before
        ]

    async def usage(self, kind: str, key: str, period_start: datetime) -> UsageSnapshot:
        return UsageSnapshot(kind, key, period_start, self.counters.get((kind, key, period_start), 0))

    async def get_preferences(self, platform: str, user_id: str) -> EditOptions:
        return self.prefs.get((platform, user_id), EditOptions())

    async def set_preferences(self, platform: str, user_id: str, options: EditOptions) -> None:
        self.prefs[(platform, user_id)] = options

    def used(self) -> int:
        """Total credits held across all counters (0 means nothing charged)."""
        return sum(self.counters.values())


class FakeEditor:
    """An edit API that returns a fixed image, or raises what a test queues, optionally after a gate."""

    def __init__(self) -> None:
        self.requests: list[EditRequest] = []
        self.result = png((10, 200, 10), (32, 32))
        self.fail_with: errors.EditbotError | None = None
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def edit(self, request: EditRequest) -> EditResult:
        self.requests.append(request)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return EditResult(images=(self.result,) * request.n, model=request.model, usage=Usage(10, 20, 30))


class FakeFetcher:
    """Platform files by file_id."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fail_with: Exception | None = None

    def add(self, file_id: str, data: bytes, **meta: Any) -> ImageRef:
        self.files[file_id] = data
        return ImageRef(Platform.CONSOLE, file_id, size=len(data), **meta)

    async def fetch(self, ref: ImageRef, max_bytes: int) -> bytes:
        if self.fail_with is not None:
            raise self.fail_with
        return self.files[ref.file_id]


class FakeOutbox:
    """Records every action; results get platform refs so "edit again" works."""

    def __init__(self) -> None:
        self.sent: list[Action] = []
        self.fail_images: Exception | None = None
        self.changed = asyncio.Event()

    async def send(self, action: Action) -> Delivered | None:
        self.sent.append(action)
        self.changed.set()
        if isinstance(action, SendImage):
            if self.fail_images is not None:
                raise self.fail_images
            refs = tuple(
                ImageRef(Platform.CONSOLE, f"result-{action.job_id}-{i}") for i in range(len(action.images))
            )
            return Delivered(message_id="m1", images=refs)
        return None

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.sent if isinstance(a, kind)]
