"""What the engine needs from storage, as a Protocol; ``core.storage`` implements it with SQLAlchemy.

Invariants every implementation keeps:
- a job's idempotency key is unique: creating a job with a key that exists returns the existing
  job and charges nothing;
- quota changes are single conditional statements inside the transaction that creates or ends
  the job, so the usage counters never exceed their limit and never lose a reservation;
- a refund or commit happens at most once per job (guarded by the job's status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.events import EditOptions
from core.identity import Community, UserKey
from core.refs import ImageRef


class ConvState(StrEnum):
    """Where a conversation stands. IDLE conversations are not stored."""

    IDLE = "idle"
    AWAITING_MASK_OR_PROMPT = "awaiting_mask_or_prompt"
    AWAITING_PROMPT = "awaiting_prompt"
    CONFIRM_RETRY = "confirm_retry"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """A conversation is one user in one chat."""

    platform: str
    chat_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """Stored conversation state."""

    key: ConversationKey
    state: ConvState
    images: tuple[ImageRef, ...] = ()
    mask: ImageRef | None = None
    options: EditOptions = field(default_factory=EditOptions)
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class JobStatus(StrEnum):
    """A job's life: queued -> running -> succeeded | failed (refunded) | cancelled (refunded)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the job can no longer change."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class QuotaScope:
    """One counter a job draws on: ``kind`` is ``user`` or ``community``; ``limit`` in credits."""

    kind: str
    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Job:
    """One edit, from reservation to result."""

    id: str
    idempotency_key: str
    platform: str
    chat_id: str
    user_id: str
    community_id: str | None
    origin: dict[str, Any]  # the serialised core.events.Origin, to answer the user later
    images: tuple[ImageRef, ...]
    mask: ImageRef | None
    prompt: str
    model: str
    options: EditOptions
    credits: int
    period_start: datetime
    status: JobStatus = JobStatus.QUEUED
    error_kind: str | None = None
    usage_tokens: int | None = None
    estimated_cost: float | None = None
    result_refs: tuple[ImageRef, ...] = ()
    worker_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """Credits used in one scope in one period."""

    kind: str
    key: str
    period_start: datetime
    used: int


class Store(Protocol):
    """Persistence for conversations, jobs, quotas and preferences."""

    async def get_conversation(self, key: ConversationKey) -> Conversation | None:
        """The stored conversation, or None."""
        ...

    async def save_conversation(self, conversation: Conversation) -> None:
        """Insert or replace; sets ``updated_at`` to now."""
        ...

    async def delete_conversation(self, key: ConversationKey) -> None:
        """Forget the conversation (no error when absent)."""
        ...

    async def create_job(self, job: Job, scopes: tuple[QuotaScope, ...]) -> tuple[Job, bool]:
        """Insert the job and reserve ``job.credits`` in every scope for ``job.period_start``, atomically.

        Returns ``(job, True)``; or ``(existing, False)`` when the idempotency key exists (nothing
        charged). Raises :class:`core.errors.QuotaExceeded` with details ``scope``, ``used``,
        ``limit`` when any scope would exceed its limit (nothing inserted, nothing charged).
        """
        ...

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""
        ...

    async def mark_running(self, job_id: str, worker_id: str) -> bool:
        """QUEUED -> RUNNING with started/heartbeat times; False if the job is not queued."""
        ...

    async def heartbeat(self, job_ids: list[str], worker_id: str) -> None:
        """Refresh ``heartbeat_at`` of running jobs owned by ``worker_id``."""
        ...

    async def succeed(
        self,
        job_id: str,
        *,
        credits: int,
        usage_tokens: int | None,
        estimated_cost: float | None,
        result_refs: tuple[ImageRef, ...],
    ) -> bool:
        """Commit: status SUCCEEDED, usage adjusted from the reserved to the real ``credits``.

        False (and nothing changed) when the job had already finished.
        """
        ...

    async def fail(self, job_id: str, *, error_kind: str, status: JobStatus = JobStatus.FAILED) -> bool:
        """Refund the reservation and finish the job as FAILED or CANCELLED; False if already finished."""
        ...

    async def set_result_refs(self, job_id: str, refs: tuple[ImageRef, ...]) -> None:
        """Remember where the delivered result lives on the platform (for "edit again")."""
        ...

    async def active_jobs(self, platform: str, user_id: str) -> list[Job]:
        """The user's queued or running jobs."""
        ...

    async def stale_jobs(self, heartbeat_before: datetime) -> list[Job]:
        """Unfinished jobs whose worker has not been heard from since ``heartbeat_before``."""
        ...

    async def usage(self, kind: str, key: str, period_start: datetime) -> UsageSnapshot:
        """Credits used (committed plus reserved) in a scope for a period; 0 when nothing yet."""
        ...

    async def get_preferences(self, platform: str, user_id: str) -> EditOptions:
        """The user's saved defaults (all None when never set)."""
        ...

    async def set_preferences(self, platform: str, user_id: str, options: EditOptions) -> None:
        """Save the user's defaults."""
        ...


def user_scope_key(user: UserKey) -> str:
    """Counter key of a user's personal quota."""
    return f"{user.platform}:{user.user_id}"


def community_scope_key(community: Community) -> str:
    """Counter key of a community's pool."""
    return f"{community.platform}:{community.id}"
