"""Hand-written in-memory fakes of what the engine depends on (store, edit API, platform)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from core import errors
from core.actions import Action, Delivered, DeliveredPart, SendImage
from core.editapi import EditRequest, EditResult, Usage
from core.editapi.stream import PartialSink
from core.events import EditOptions, Origin
from core.identity import Platform
from core.refs import ImageRef
from core.storage.protocol import (
    AuditEntry,
    CallStart,
    Conversation,
    ConversationKey,
    FullSizeState,
    Job,
    JobActivity,
    JobStage,
    JobStatus,
    KeptFiles,
    LeaseLost,
    LimitOverride,
    QuotaScope,
    StoredUpdate,
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
        self.bonuses: dict[tuple[str, str, datetime], int] = {}
        self.prefs: dict[tuple[str, str], EditOptions] = {}
        self.limits: dict[tuple[str, str], LimitOverride] = {}
        self.blocks: dict[tuple[str, str, str], str | None] = {}
        self.audit: list[AuditEntry] = []
        self.results: dict[str, list[bytes]] = {}
        # job -> (files, expires at, last sent at): the full-size files behind a button
        self.full_size: dict[str, tuple[tuple[bytes, ...], datetime, datetime | None]] = {}
        self.inbox: dict[tuple[str, str], tuple[StoredUpdate, datetime]] = {}
        self.handled: set[tuple[str, str]] = set()
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
        for scope in sorted(scopes, key=lambda s: (s.kind, s.key)):
            k = (scope.kind, scope.key, job.period_start)
            used, bonus = self.counters.get(k, 0), self.bonuses.get(k, 0)
            if scope.limit is not None and used + job.credits > scope.limit + bonus:
                raise errors.QuotaExceeded(scope=scope.kind, used=used, limit=max(0, scope.limit + bonus))
        for scope in scopes:
            k = (scope.kind, scope.key, job.period_start)
            self.counters[k] = self.counters.get(k, 0) + job.credits
        job = replace(job, created_at=self.clock())
        self.jobs[job.id] = job
        self.scopes[job.id] = scopes
        return job, True

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def job_by_key(self, idempotency_key: str) -> Job | None:
        return next((j for j in self.jobs.values() if j.idempotency_key == idempotency_key), None)

    async def mark_running(self, job_id: str, worker_id: str) -> bool:
        job = self.jobs[job_id]
        if job.status is not JobStatus.QUEUED:
            return False
        now = self.clock()
        self.jobs[job_id] = replace(
            job,
            status=JobStatus.RUNNING,
            worker_id=worker_id,
            started_at=now,
            heartbeat_at=now,
            claim=job.claim + 1,
        )
        return True

    def _fence(self, job_id: str, claim: int | None) -> Job:
        """The job, when ``claim`` (if given) still holds it; else :class:`LeaseLost`."""
        job = self.jobs[job_id]
        if claim is not None and (job.claim != claim or job.status.finished):
            raise LeaseLost(f"claim {claim} is no longer held")
        return job

    def _holds(self, job_id: str, claim: int | None) -> bool:
        try:
            self._fence(job_id, claim)
        except LeaseLost:
            return False
        return True

    async def renew(self, job_id: str, claim: int) -> None:
        job = self._fence(job_id, claim)
        self.jobs[job_id] = replace(job, heartbeat_at=self.clock())

    async def cancel_unanswered(self, platform: str, user_id: str) -> list[Job]:
        cancelled = []
        for job in list(self.jobs.values()):
            if (job.platform, job.user_id) != (platform, user_id) or job.status.finished:
                continue
            if job.stage.has_result:
                continue
            self._adjust(job, -job.credits)
            job = replace(
                job,
                status=JobStatus.CANCELLED,
                error_kind="cancelled",
                finished_at=self.clock(),
                claim=job.claim + 1,
            )
            self.jobs[job.id] = job
            cancelled.append(job)
        return cancelled

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
        claim: int | None = None,
        delivery: Sequence[DeliveredPart] | None = None,
    ) -> bool:
        job = self.jobs[job_id]
        if job.status.finished or not self._holds(job_id, claim):
            return False
        self._adjust(job, credits - job.credits)
        self.results.pop(job_id, None)
        self.jobs[job_id] = replace(
            job,
            delivery=job.delivery if delivery is None else tuple(delivery),
            status=JobStatus.SUCCEEDED,
            credits=credits,
            usage_tokens=usage_tokens,
            estimated_cost=estimated_cost,
            result_refs=result_refs or job.result_refs,
            finished_at=self.clock(),
        )
        return True

    async def fail(
        self, job_id: str, *, error_kind: str, status: JobStatus = JobStatus.FAILED, claim: int | None = None
    ) -> bool:
        job = self.jobs[job_id]
        if job.status.finished or not self._holds(job_id, claim):
            return False
        self._adjust(job, -job.credits)
        self.results.pop(job_id, None)
        self.jobs[job_id] = replace(job, status=status, error_kind=error_kind, finished_at=self.clock())
        return True

    def _adjust(self, job: Job, delta: int) -> None:
        for scope in self.scopes[job.id]:
            k = (scope.kind, scope.key, job.period_start)
            self.counters[k] = max(0, self.counters.get(k, 0) + delta)

    async def start_call(self, job_id: str, worker_id: str, *, claim: int | None = None) -> int:
        job = self._fence(job_id, claim)
        self.jobs[job_id] = replace(job, stage=JobStage.CALLING, attempts=job.attempts + 1)
        return job.attempts + 1

    async def start_calls(self, calls: Sequence[CallStart]) -> dict[str, int]:
        started = {}
        for call in calls:
            with contextlib.suppress(LeaseLost):
                started[call.job_id] = await self.start_call(call.job_id, "", claim=call.claim)
                if call.status_message is not None:
                    job = self.jobs[call.job_id]
                    self.jobs[call.job_id] = replace(job, status_message=call.status_message)
        return started

    async def save_result(
        self,
        job_id: str,
        images: Sequence[bytes],
        *,
        usage_tokens: int | None,
        estimated_cost: float | None,
        claim: int | None = None,
    ) -> None:
        self._fence(job_id, claim)
        self.results[job_id] = list(images)
        self.jobs[job_id] = replace(
            self.jobs[job_id],
            stage=JobStage.ANSWERED,
            usage_tokens=usage_tokens,
            estimated_cost=estimated_cost,
        )

    async def drop_finished_results(self) -> int:
        return 0  # succeed() and fail() drop them at once here

    async def job_result(self, job_id: str) -> list[bytes]:
        return list(self.results.get(job_id, []))

    async def keep_full_size(self, job_id: str, images: Sequence[bytes], expires_at: datetime) -> None:
        self.full_size[job_id] = (tuple(images), expires_at, None)

    async def take_full_size(self, job_id: str, now: datetime, *, sent_before: datetime) -> KeptFiles:
        kept = self.full_size.get(job_id)
        if kept is None or kept[1] <= now:
            return KeptFiles(FullSizeState.GONE)
        if kept[2] is not None and kept[2] >= sent_before:
            return KeptFiles(FullSizeState.JUST_SENT)
        self.full_size[job_id] = (kept[0], kept[1], now)
        return KeptFiles(FullSizeState.SEND, kept[0])

    async def full_size_image(self, job_id: str, index: int, now: datetime) -> bytes | None:
        kept = self.full_size.get(job_id)
        if kept is None or kept[1] <= now or index >= len(kept[0]):
            return None
        return kept[0][index]

    async def purge_full_size(self, now: datetime) -> int:
        gone = [job for job, (_, expires, _) in self.full_size.items() if expires <= now]
        for job in gone:
            del self.full_size[job]
        return len(gone)

    async def record_delivery(
        self,
        job_id: str,
        part: DeliveredPart,
        *,
        before: Sequence[DeliveredPart] | None = None,
        claim: int | None = None,
    ) -> None:
        job = self._fence(job_id, claim)
        self.jobs[job_id] = replace(job, delivery=(*job.delivery, part), stage=JobStage.DELIVERING)

    async def set_status_message(
        self, job_id: str, message_id: str | None, *, claim: int | None = None
    ) -> None:
        self.jobs[job_id] = replace(self._fence(job_id, claim), status_message=message_id)

    async def claim(self, job_id: str, worker_id: str, heartbeat_before: datetime) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.status.finished or (job.heartbeat_at or heartbeat_before) >= heartbeat_before:
            return None
        job = replace(
            job, status=JobStatus.RUNNING, worker_id=worker_id, heartbeat_at=self.clock(), claim=job.claim + 1
        )
        self.jobs[job_id] = job
        return job

    async def release(self, job_id: str, worker_id: str) -> None:
        job = self.jobs[job_id]
        if job.worker_id == worker_id and not job.status.finished:
            self.jobs[job_id] = replace(job, worker_id=None, heartbeat_at=datetime(1970, 1, 1, tzinfo=UTC))

    async def inbox_put(self, updates: Sequence[StoredUpdate], worker_id: str) -> set[str]:
        new = set()
        for update in updates:
            key = (update.platform, update.update_id)
            if key not in self.inbox:
                self.inbox[key] = (update, self.clock())
                new.add(update.update_id)
        return new

    async def inbox_done(self, platform: str, update_ids: Sequence[str]) -> None:
        self.handled.update((platform, update_id) for update_id in update_ids)

    async def inbox_claim(
        self, platform: str, claimed_before: datetime, worker_id: str
    ) -> list[StoredUpdate]:
        found = [
            u
            for (p, i), (u, at) in self.inbox.items()
            if p == platform and at < claimed_before and (p, i) not in self.handled
        ]
        for u in found:
            self.inbox[(platform, u.update_id)] = (u, self.clock())
        return found

    async def active_jobs(self, platform: str, user_id: str) -> list[Job]:
        return [
            j
            for j in self.jobs.values()
            if j.platform == platform and j.user_id == user_id and not j.status.finished
        ]

    async def seen_or_active(
        self, idempotency_key: str, platform: str, user_id: str
    ) -> tuple[bool, list[Job]]:
        return await self.job_by_key(idempotency_key) is not None, await self.active_jobs(platform, user_id)

    async def stale_jobs(self, heartbeat_before: datetime) -> list[Job]:
        return [
            j
            for j in self.jobs.values()
            if not j.status.finished
            and (j.heartbeat_at or j.created_at or heartbeat_before) < heartbeat_before
        ]

    async def usage(self, kind: str, key: str, period_start: datetime) -> UsageSnapshot:
        k = (kind, key, period_start)
        return UsageSnapshot(kind, key, period_start, self.counters.get(k, 0), self.bonuses.get(k, 0))

    async def usages(self, scopes: Sequence[QuotaScope], period_start: datetime) -> list[UsageSnapshot]:
        return [await self.usage(s.kind, s.key, period_start) for s in scopes]

    async def get_preferences(self, platform: str, user_id: str) -> EditOptions:
        return self.prefs.get((platform, user_id), EditOptions())

    async def set_preferences(self, platform: str, user_id: str, options: EditOptions) -> None:
        self.prefs[(platform, user_id)] = options

    def used(self) -> int:
        """Credits held by users' and members' counters (0 means nothing charged).

        The community and global counters mirror these, so they are left out: one private edit
        of one credit is ``used() == 1``.
        """
        return sum(v for (kind, _, _), v in self.counters.items() if kind in ("user", "member"))

    def total(self, kind: str) -> int:
        """Credits held by every counter of one kind."""
        return sum(v for (k, _, _), v in self.counters.items() if k == kind)

    # -- limits, grants, blocks, audit ---------------------------------------------------

    def _log(self, audit: AuditEntry) -> None:
        self.audit.append(replace(audit, at=audit.at or self.clock(), id=len(self.audit) + 1))

    async def get_limits(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {tuple(k): self.limits[tuple(k)].limit for k in keys if tuple(k) in self.limits}  # type: ignore[misc]

    async def community_limits(self, community: str) -> list[LimitOverride]:
        found = [
            o
            for (kind, key), o in self.limits.items()
            if (kind in ("community", "members") and key == community)
            or (kind == "member" and key.startswith(f"{community}/"))
        ]
        return sorted(found, key=lambda o: (o.kind, o.key))

    async def set_limit(
        self, kind: str, key: str, limit: int | None, audit: AuditEntry, *, label: str | None = None
    ) -> int | None:
        old = self.limits.pop((kind, key), None)
        if limit is not None:
            self.limits[(kind, key)] = LimitOverride(kind, key, limit, label, audit.actor, self.clock())
        previous = old.limit if old else None
        self._log(
            replace(audit, details={"kind": kind, "limit": limit, "previous": previous, **audit.details})
        )
        return previous

    async def blocks_of(self, platform: str, user_id: str) -> frozenset[str]:
        return frozenset(w for (p, u, w) in self.blocks if (p, u) == (platform, user_id))

    async def limits_and_blocks(
        self, keys: Sequence[tuple[str, str]], platform: str, user_id: str
    ) -> tuple[dict[tuple[str, str], int], frozenset[str]]:
        return await self.get_limits(keys), await self.blocks_of(platform, user_id)

    async def set_block(
        self, platform: str, user_id: str, where: str, blocked: bool, audit: AuditEntry
    ) -> bool:
        k = (platform, user_id, where)
        if blocked == (k in self.blocks):
            return False
        if blocked:
            self.blocks[k] = audit.target_name
        else:
            del self.blocks[k]
        self._log(audit)
        return True

    async def add_bonus(
        self, kind: str, key: str, period_start: datetime, credits: int, audit: AuditEntry
    ) -> UsageSnapshot:
        k = (kind, key, period_start)
        self.bonuses[k] = self.bonuses.get(k, 0) + credits
        self._log(audit)
        return await self.usage(kind, key, period_start)

    async def reset_usage(
        self, kind: str, key: str, period_start: datetime, audit: AuditEntry
    ) -> UsageSnapshot:
        k = (kind, key, period_start)
        if k in self.counters:
            self.counters[k] = 0
        self._log(audit)
        return await self.usage(kind, key, period_start)

    async def audit_log(self, *, community: str | None = None, limit: int = 20) -> list[AuditEntry]:
        found = [e for e in self.audit if community is None or e.community == community]
        return list(reversed(found))[:limit]

    async def job_activity(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        platform: str | None = None,
        community_id: str | None = None,
    ) -> list[JobActivity]:
        found = [
            JobActivity(
                j.id,
                j.platform,
                j.user_id,
                j.community_id,
                j.status,
                j.credits,
                j.created_at or since,
                j.usage_tokens,
                j.estimated_cost,
                j.origin.get("user_name"),
            )
            for j in self.jobs.values()
            if (j.created_at or since) >= since
            and (until is None or (j.created_at or since) < until)
            and (platform is None or j.platform == platform)
            and (community_id is None or j.community_id == community_id)
        ]
        return sorted(found, key=lambda a: (a.created_at, a.job_id))


class FakeEditor:
    """An edit API that returns a fixed image, or raises what a test queues, optionally after a gate."""

    def __init__(self) -> None:
        self.requests: list[EditRequest] = []
        self.result = png((10, 200, 10), (32, 32))
        self.fail_with: errors.EditbotError | None = None
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.sinks: list[PartialSink | None] = []  # what each edit was given for partial images

    async def edit(self, request: EditRequest, on_partial: PartialSink | None = None) -> EditResult:
        self.requests.append(request)
        self.sinks.append(on_partial)
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

    upload_limit: int | None = 10 * 1000 * 1000
    keeps_png: bool = True

    def __init__(self) -> None:
        self.sent: list[Action] = []
        self.fail_images: Exception | None = None
        self.changed = asyncio.Event()
        self.room_for_previews = True

    def has_room_for_preview(self, origin: Origin) -> bool:
        return self.room_for_previews

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
