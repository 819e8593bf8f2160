"""What the engine needs from storage, as a Protocol; ``core.storage`` implements it with SQLAlchemy.

Invariants every implementation keeps:
- a job's idempotency key is unique: creating a job with a key that exists returns the existing
  job and charges nothing;
- quota changes are single conditional statements inside the transaction that creates or ends
  the job, so the usage counters never exceed their limit and never lose a reservation;
- a refund or commit happens at most once per job (guarded by the job's status);
- a reservation succeeds only while ``used + credits <= limit + bonus`` for every scope with a
  limit (``bonus`` is what admins granted, negative when they took); scopes without a limit are
  counted but never refuse;
- every admin change (limits, grants, resets, blocks) writes its audit row in the same
  transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from core.actions import DeliveredPart
from core.events import EditOptions
from core.identity import Community, UserKey
from core.refs import ImageRef

if TYPE_CHECKING:  # the quota rules build on this protocol
    from core.quotas.rules import LimitKind


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


class JobStage(StrEnum):
    """How far an unfinished job got; decides what a recovering process does with it.

    RESERVED (charged, no API call yet) -> CALLING (a call started; ``Job.attempts`` counts them)
    -> ANSWERED (the API's images are stored) -> DELIVERING (some messages of the result were
    sent, ``Job.delivery``). A job that reached ANSWERED is never refunded by a recovery: its
    result is delivered (or completed) and the job committed.
    """

    RESERVED = "reserved"
    CALLING = "calling"
    ANSWERED = "answered"
    DELIVERING = "delivering"

    @property
    def has_result(self) -> bool:
        """True once the API's answer is stored (nothing left to pay for)."""
        return self in (JobStage.ANSWERED, JobStage.DELIVERING)


@dataclass(frozen=True, slots=True)
class QuotaScope:
    """One counter a job draws on, with its limit in credits (None: counted, never refused).

    ``kind`` is ``user`` (a private chat), ``member`` (a user in a community), ``community``
    (the community's pool) or ``global`` (everything, key ``all``).
    """

    kind: LimitKind
    key: str
    limit: int | None


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
    stage: JobStage = JobStage.RESERVED
    attempts: int = 0
    delivery: tuple[DeliveredPart, ...] = ()
    status_message: str | None = None
    claim: int = 0  # the fencing token: bumped by every claim or takeover (issue 14)


class LeaseLost(Exception):
    """A fenced write found the job claimed by someone else since (or finished): the caller's
    lease ran out while it stalled, and it must stop without touching the job or its messages."""


@dataclass(frozen=True, slots=True)
class CallStart:
    """One job's paid call about to start: its fencing token, and its status message if one is
    on screen (stored with the call start, so a crash from there on leaves its id to the next
    process to replace or remove)."""

    job_id: str
    claim: int | None = None
    status_message: str | None = None


class FullSizeState(StrEnum):
    """What a "Full size" press finds (issue 11)."""

    SEND = "send"  # the kept files, now marked sent by this press
    JUST_SENT = "just_sent"  # kept, but another press sent them moments ago
    GONE = "gone"  # expired, purged, or never kept


@dataclass(frozen=True, slots=True)
class KeptFiles:
    """The answer of :meth:`Store.take_full_size`: the original files, in order, when ``SEND``."""

    state: FullSizeState
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """A platform update kept in the inbox until it was handled."""

    platform: str
    update_id: str
    payload: dict[str, Any]
    # scale-out (issue 14): whose conversation it belongs to ("chat:user"), and its album, if any,
    # so processes sharing a database apply one conversation's updates in order and collect albums.
    conversation: str | None = None
    media_group: str | None = None


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """Credits used in one scope in one period, and the extra credits admins granted (``bonus``)."""

    kind: str
    key: str
    period_start: datetime
    used: int
    bonus: int = 0


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """A limit stored in the database, overriding the settings' default for one scope.

    ``kind`` is a :class:`core.quotas.limits.LimitKind` value; ``label`` a display name of the member.
    """

    kind: str
    key: str
    limit: int
    label: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin change: who (``actor``, ``platform:id`` or ``operator``), what, where, when.

    ``community`` is the community's scope key, or None for global and personal changes;
    ``target`` the ``platform:id`` acted on; ``details`` JSON values (limits, credits, ...).
    """

    actor: str
    action: str
    community: str | None = None
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    actor_name: str | None = None
    target_name: str | None = None
    at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class JobActivity:
    """What reports need of a job (no prompt, no images)."""

    job_id: str
    platform: str
    user_id: str
    community_id: str | None
    status: JobStatus
    credits: int
    created_at: datetime
    usage_tokens: int | None = None
    estimated_cost: float | None = None
    user_name: str | None = None


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

    async def job_by_key(self, idempotency_key: str) -> Job | None:
        """The job created under ``idempotency_key``, or None."""
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
        claim: int | None = None,
        delivery: Sequence[DeliveredPart] | None = None,
    ) -> bool:
        """Commit: status SUCCEEDED, usage adjusted from the reserved to the real ``credits``.

        ``delivery``, when given, replaces ``Job.delivery`` in the same write (its last part was
        not recorded on its own).

        False (and nothing changed) when the job had already finished, or (with ``claim``, the
        caller's fencing token) was claimed again since.
        """
        ...

    async def fail(
        self, job_id: str, *, error_kind: str, status: JobStatus = JobStatus.FAILED, claim: int | None = None
    ) -> bool:
        """Refund the reservation and finish the job as FAILED or CANCELLED; False if already
        finished (or, with ``claim``, claimed again since)."""
        ...

    async def renew(self, job_id: str, claim: int) -> None:
        """Refresh the lease of a job still held under fencing token ``claim``, else raise
        :class:`LeaseLost` (before the result is shown, issue 14)."""
        ...

    async def cancel_unanswered(self, platform: str, user_id: str) -> list[Job]:
        """``/cancel`` across processes: cancel and refund the user's unfinished jobs whose result
        is not stored yet, in one statement; the jobs cancelled. Their claim is bumped, so a worker
        holding one stops at its next fenced write."""
        ...

    # -- crash safety (issue 10) ----------------------------------------------------------

    # Fenced writes (issue 14): with ``claim`` (the worker's fencing token) each raises
    # :class:`LeaseLost` when the job was claimed again or finished since.

    async def start_call(self, job_id: str, worker_id: str, *, claim: int | None = None) -> int:
        """Stage CALLING, one more attempt counted (before the paid call); the attempts so far."""
        ...

    async def start_calls(self, calls: Sequence[CallStart]) -> dict[str, int]:
        """:meth:`start_call` for several jobs at once, in one statement, storing the status
        message ids given: the attempts so far of each job still held (a job missing from the
        answer was not)."""
        ...

    async def save_result(
        self,
        job_id: str,
        images: Sequence[bytes],
        *,
        usage_tokens: int | None,
        estimated_cost: float | None,
        claim: int | None = None,
    ) -> None:
        """Keep the API's images with the job (stage ANSWERED) until the job finishes."""
        ...

    async def job_result(self, job_id: str) -> list[bytes]:
        """The images kept by :meth:`save_result` (empty when none, or once the job finished)."""
        ...

    async def drop_finished_results(self) -> int:
        """Delete the images kept for jobs that have finished since (the runner's sweep does this,
        for every job at once, instead of one more statement per edit); how many were deleted."""
        ...

    async def record_delivery(
        self,
        job_id: str,
        part: DeliveredPart,
        *,
        before: Sequence[DeliveredPart] | None = None,
        claim: int | None = None,
    ) -> None:
        """Add one sent message of the result to ``Job.delivery`` (stage DELIVERING); ``before``
        is the delivery recorded so far when the caller (the job's owner) knows it."""
        ...

    async def set_status_message(
        self, job_id: str, message_id: str | None, *, claim: int | None = None
    ) -> None:
        """Remember (or with None forget) the job's progress message."""
        ...

    async def claim(self, job_id: str, worker_id: str, heartbeat_before: datetime) -> Job | None:
        """Take over an unfinished job not heard from since ``heartbeat_before``; None if another
        process was faster or its worker is alive. The job is RUNNING for ``worker_id`` after."""
        ...

    async def release(self, job_id: str, worker_id: str) -> None:
        """Hand an unfinished job back for the next process to claim at once (graceful stop)."""
        ...

    async def inbox_put(self, updates: Sequence[StoredUpdate], worker_id: str) -> set[str]:
        """Store updates before their receipt is confirmed, in one transaction; the ids of those
        not stored already (a redelivered update is not new)."""
        ...

    async def inbox_done(self, platform: str, update_ids: Sequence[str]) -> None:
        """Mark updates handled, in one statement (kept a while, so a redelivery is skipped)."""
        ...

    async def inbox_claim(
        self, platform: str, claimed_before: datetime, worker_id: str
    ) -> list[StoredUpdate]:
        """Take over unhandled updates another worker claimed before ``claimed_before`` (its
        handler died), oldest first; handled ones older than a day are forgotten on the way."""
        ...

    # -- full-size results (issue 11): separate from the job's rows, and they expire -----------

    async def keep_full_size(self, job_id: str, images: Sequence[bytes], expires_at: datetime) -> None:
        """Keep a result's original files until ``expires_at`` (again: the same files, unchanged)."""
        ...

    async def take_full_size(self, job_id: str, now: datetime, *, sent_before: datetime) -> KeptFiles:
        """The kept files of ``job_id`` for one press, unless they expired or a press sent them
        after ``sent_before`` (one conditional statement: of two presses at once, one sends)."""
        ...

    async def purge_full_size(self, now: datetime) -> int:
        """Delete the files expired by ``now``; how many were deleted."""
        ...

    async def full_size_image(self, job_id: str, index: int, now: datetime) -> bytes | None:
        """One kept original, to edit again from (no press is counted); None once expired."""
        ...

    async def active_jobs(self, platform: str, user_id: str) -> list[Job]:
        """The user's queued or running jobs."""
        ...

    async def seen_or_active(
        self, idempotency_key: str, platform: str, user_id: str
    ) -> tuple[bool, list[Job]]:
        """Whether a job exists under ``idempotency_key``, and the user's :meth:`active_jobs`, in one read."""
        ...

    async def stale_jobs(self, heartbeat_before: datetime) -> list[Job]:
        """Unfinished jobs whose worker has not been heard from since ``heartbeat_before``."""
        ...

    async def usage(self, kind: str, key: str, period_start: datetime) -> UsageSnapshot:
        """Credits used (committed plus reserved) in a scope for a period; 0 when nothing yet."""
        ...

    async def usages(self, scopes: Sequence[QuotaScope], period_start: datetime) -> list[UsageSnapshot]:
        """:meth:`usage` of several scopes in one read (``/usage``), in their order."""
        ...

    async def get_preferences(self, platform: str, user_id: str) -> EditOptions:
        """The user's saved defaults (all None when never set)."""
        ...

    async def set_preferences(self, platform: str, user_id: str, options: EditOptions) -> None:
        """Save the user's defaults."""
        ...

    # -- limits, grants, blocks and their audit trail ----------------------------------------

    async def get_limits(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored overrides among ``(kind, key)`` pairs; pairs without one are absent."""
        ...

    async def community_limits(self, community: str) -> list[LimitOverride]:
        """Every override of one community (its pool, its members' default, single members)."""
        ...

    async def set_limit(
        self, kind: str, key: str, limit: int | None, audit: AuditEntry, *, label: str | None = None
    ) -> int | None:
        """Store (or with None remove) an override, audited; returns the previous override."""
        ...

    async def blocks_of(self, platform: str, user_id: str) -> frozenset[str]:
        """Where the user is blocked: community scope keys, and ``*`` for everywhere."""
        ...

    async def limits_and_blocks(
        self, keys: Sequence[tuple[str, str]], platform: str, user_id: str
    ) -> tuple[dict[tuple[str, str], int], frozenset[str]]:
        """:meth:`get_limits` and :meth:`blocks_of` in one read (what every edit asks first)."""
        ...

    async def set_block(
        self, platform: str, user_id: str, where: str, blocked: bool, audit: AuditEntry
    ) -> bool:
        """Block or unblock the user in ``where`` (a community key or ``*``); False if nothing changed.

        The audit row is written only when something changed.
        """
        ...

    async def add_bonus(
        self, kind: str, key: str, period_start: datetime, credits: int, audit: AuditEntry
    ) -> UsageSnapshot:
        """Add ``credits`` (negative to take) to the scope's bonus for the period, audited."""
        ...

    async def reset_usage(
        self, kind: str, key: str, period_start: datetime, audit: AuditEntry
    ) -> UsageSnapshot:
        """Set the scope's used credits for the period to 0, audited (in-flight refunds stay >= 0)."""
        ...

    async def audit_log(self, *, community: str | None = None, limit: int = 20) -> list[AuditEntry]:
        """The latest entries, newest first: one community's, or with None every entry."""
        ...

    async def job_activity(
        self,
        *,
        since: datetime,
        until: datetime | None = None,
        platform: str | None = None,
        community_id: str | None = None,
    ) -> list[JobActivity]:
        """Jobs created in ``[since, until)``, oldest first, optionally of one community."""
        ...


def user_scope_key(user: UserKey) -> str:
    """Counter key of a user's personal quota."""
    return f"{user.platform}:{user.user_id}"


def community_scope_key(community: Community) -> str:
    """Counter key of a community's pool."""
    return f"{community.platform}:{community.id}"


def member_scope_key(community: Community, user: UserKey) -> str:
    """Counter key of a member's quota in a community."""
    return f"{community_scope_key(community)}/{user.user_id}"
