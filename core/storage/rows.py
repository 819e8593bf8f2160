"""Conversion between the store's frozen dataclasses and table rows (plain dicts of JSON values).

Invariants: image references are stored as ``ImageRef.to_json`` dicts and read back with
``ImageRef.from_json``; edit options are stored without their ``None`` fields and read back
ignoring keys this version does not know, so rows written by a newer release still load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from core.actions import DeliveredPart
from core.events import EditOptions
from core.refs import ImageRef
from core.storage.protocol import (
    AuditEntry,
    Conversation,
    ConversationKey,
    ConvState,
    Job,
    JobActivity,
    JobStage,
    JobStatus,
    LimitOverride,
    QuotaScope,
)

_OPTION_FIELDS = tuple(f.name for f in fields(EditOptions))


def options_to_json(options: EditOptions) -> dict[str, Any]:
    """The options that are set, as a JSON object."""
    # Not asdict(): it deep-copies every field, and every field is a plain str, int or bool.
    return {name: value for name in _OPTION_FIELDS if (value := getattr(options, name)) is not None}


def options_from_json(data: Mapping[str, Any] | None) -> EditOptions:
    """Inverse of :func:`options_to_json`; unknown keys are ignored."""
    data = data or {}
    return EditOptions(**{name: data.get(name) for name in _OPTION_FIELDS})


def refs_to_json(refs: Iterable[ImageRef]) -> list[dict[str, Any]]:
    """Image references as a JSON list."""
    return [ref.to_json() for ref in refs]


def refs_from_json(data: Iterable[Mapping[str, Any]] | None) -> tuple[ImageRef, ...]:
    """Inverse of :func:`refs_to_json`; SQL NULL reads as no images."""
    return tuple(ImageRef.from_json(dict(item)) for item in data or ())


def ref_to_json(ref: ImageRef | None) -> dict[str, Any] | None:
    """One optional image reference (a mask)."""
    return None if ref is None else ref.to_json()


def ref_from_json(data: Mapping[str, Any] | None) -> ImageRef | None:
    """Inverse of :func:`ref_to_json`."""
    return None if data is None else ImageRef.from_json(dict(data))


def conversation_values(conversation: Conversation) -> dict[str, Any]:
    """Column values of a ``conversations`` row, except ``updated_at``."""
    key = conversation.key
    return {
        "platform": key.platform,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "state": conversation.state.value,
        "images": refs_to_json(conversation.images),
        "mask": ref_to_json(conversation.mask),
        "options": options_to_json(conversation.options),
        "data": dict(conversation.data),
    }


def conversation_from_row(row: Mapping[Any, Any]) -> Conversation:
    """A :class:`Conversation` from a ``conversations`` row."""
    return Conversation(
        key=ConversationKey(row["platform"], row["chat_id"], row["user_id"]),
        state=ConvState(row["state"]),
        images=refs_from_json(row["images"]),
        mask=ref_from_json(row["mask"]),
        options=options_from_json(row["options"]),
        data=dict(row["data"] or {}),
        updated_at=row["updated_at"],
    )


def scopes_to_json(scopes: Iterable[QuotaScope]) -> list[list[str]]:
    """The ``[kind, key]`` pairs stored in ``jobs.scopes``."""
    return [[scope.kind, scope.key] for scope in scopes]


def job_values(job: Job, scopes: Iterable[QuotaScope]) -> dict[str, Any]:
    """Column values of a new ``jobs`` row."""
    return {
        "id": job.id,
        "idempotency_key": job.idempotency_key,
        "platform": job.platform,
        "chat_id": job.chat_id,
        "user_id": job.user_id,
        "community_id": job.community_id,
        "origin": dict(job.origin),
        "images": refs_to_json(job.images),
        "mask": ref_to_json(job.mask),
        "prompt": job.prompt,
        "model": job.model,
        "options": options_to_json(job.options),
        "credits": job.credits,
        "reserved_credits": job.credits,
        "scopes": scopes_to_json(scopes),
        "period_start": job.period_start,
        "status": job.status.value,
        "error_kind": job.error_kind,
        "usage_tokens": job.usage_tokens,
        "estimated_cost": job.estimated_cost,
        "result_refs": refs_to_json(job.result_refs),
        "worker_id": job.worker_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "heartbeat_at": job.heartbeat_at,
        "stage": job.stage.value,
        "attempts": job.attempts,
        "delivery": delivery_to_json(job.delivery),
        "status_message": job.status_message,
        "claims": job.claim,
    }


def delivery_to_json(parts: Iterable[DeliveredPart]) -> list[dict[str, Any]]:
    """Sent parts of a result as a JSON list."""
    return [part.to_json() for part in parts]


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """A :class:`Job` from a ``jobs`` row."""
    return Job(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        community_id=row["community_id"],
        origin=dict(row["origin"] or {}),
        images=refs_from_json(row["images"]),
        mask=ref_from_json(row["mask"]),
        prompt=row["prompt"],
        model=row["model"],
        options=options_from_json(row["options"]),
        credits=row["credits"],
        period_start=row["period_start"],
        status=JobStatus(row["status"]),
        error_kind=row["error_kind"],
        usage_tokens=row["usage_tokens"],
        estimated_cost=row["estimated_cost"],
        result_refs=refs_from_json(row["result_refs"]),
        worker_id=row["worker_id"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        heartbeat_at=row["heartbeat_at"],
        stage=JobStage(row["stage"]),
        attempts=int(row["attempts"]),
        delivery=tuple(DeliveredPart.from_json(dict(p)) for p in row["delivery"] or ()),
        status_message=row["status_message"],
        claim=int(row["claims"]),
    )


def limit_from_row(row: Mapping[Any, Any]) -> LimitOverride:
    """A :class:`LimitOverride` from a ``quota_limits`` row."""
    return LimitOverride(
        kind=row["scope_kind"],
        key=row["scope_key"],
        limit=int(row["credit_limit"]),
        label=row["label"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


def audit_values(entry: AuditEntry, now: datetime) -> dict[str, Any]:
    """Column values of a new ``audit_log`` row (``at`` defaults to ``now``; the id is generated)."""
    return {
        "at": entry.at or now,
        "actor": entry.actor,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "community": entry.community,
        "target": entry.target,
        "target_name": entry.target_name,
        "details": dict(entry.details),
    }


def audit_from_row(row: Mapping[Any, Any]) -> AuditEntry:
    """An :class:`AuditEntry` from an ``audit_log`` row."""
    return AuditEntry(
        actor=row["actor"],
        action=row["action"],
        community=row["community"],
        target=row["target"],
        details=dict(row["details"] or {}),
        actor_name=row["actor_name"],
        target_name=row["target_name"],
        at=row["at"],
        id=int(row["id"]),
    )


def activity_from_row(row: Mapping[Any, Any]) -> JobActivity:
    """A :class:`JobActivity` from a partial ``jobs`` row (with ``origin`` for the user's name)."""
    origin = row["origin"] or {}
    return JobActivity(
        job_id=row["id"],
        platform=row["platform"],
        user_id=row["user_id"],
        community_id=row["community_id"],
        status=JobStatus(row["status"]),
        credits=int(row["credits"]),
        created_at=row["created_at"],
        usage_tokens=row["usage_tokens"],
        estimated_cost=row["estimated_cost"],
        user_name=origin.get("user_name") if isinstance(origin, Mapping) else None,
    )
