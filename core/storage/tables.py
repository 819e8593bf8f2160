"""The database schema as SQLAlchemy Core tables; ``migrations/`` must produce exactly this.

Invariants:
- every datetime goes in and comes out timezone-aware UTC, on SQLite as well (:class:`UTCDateTime`);
- JSON columns hold plain JSON (``ImageRef.to_json`` dicts, option dicts); nullable ones store SQL
  NULL for ``None``, never the JSON literal ``null``;
- constraint and index names follow :data:`NAMING_CONVENTION`, so migrations can name them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
"""Every table of the schema."""


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that accepts only aware datetimes and returns aware UTC.

    SQLite has no time zone type: values are stored as naive UTC text (which sorts and compares
    correctly because SQLAlchemy always writes the same fixed-width format) and get UTC attached
    on the way out. PostgreSQL stores ``timestamptz``; results are converted to UTC whatever the
    session's ``TimeZone`` is.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC; naive datetimes are refused because their meaning is ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware UTC, whatever the backend returned."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(*, nullable: bool = False) -> sa.JSON:
    # none_as_null: a Python None becomes SQL NULL (so "IS NULL" works), not the JSON text 'null'.
    return sa.JSON(none_as_null=nullable)


def _id(length: int = 64) -> sa.String:
    return sa.String(length)


conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("chat_id", _id(), primary_key=True),
    sa.Column("user_id", _id(), primary_key=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("images", _json(), nullable=False),
    sa.Column("mask", _json(nullable=True), nullable=True),
    sa.Column("options", _json(), nullable=False),
    sa.Column("data", _json(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # Expiring abandoned conversations scans by age.
    sa.Index(None, "updated_at"),
)
"""One row per (platform, chat, user) conversation that is not idle."""

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
"""Values of ``jobs.status`` (``core.storage.protocol.JobStatus``), enforced by a CHECK constraint."""

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("chat_id", _id(), nullable=False),
    sa.Column("user_id", _id(), nullable=False),
    sa.Column("community_id", _id(), nullable=True),
    sa.Column("origin", _json(), nullable=False),
    sa.Column("images", _json(), nullable=False),
    sa.Column("mask", _json(nullable=True), nullable=True),
    sa.Column("prompt", sa.Text(), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("options", _json(), nullable=False),
    # ``credits`` is what the job reserved until it succeeds, then what it was charged;
    # ``reserved_credits`` never changes, so the commit can compute the usage delta in SQL.
    sa.Column("credits", sa.Integer(), nullable=False),
    sa.Column("reserved_credits", sa.Integer(), nullable=False),
    # [[kind, key], ...]: the usage counters the reservation was taken from.
    sa.Column("scopes", _json(), nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_kind", sa.String(64), nullable=True),
    sa.Column("usage_tokens", sa.Integer(), nullable=True),
    sa.Column("estimated_cost", sa.Float(), nullable=True),
    sa.Column("result_refs", _json(), nullable=False),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    # Set at creation too, so a job that no worker ever picked up also turns stale.
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    # Crash safety (issue 10): how far the job got, so another process resumes instead of refunding.
    # ``stage`` is core.storage.protocol.JobStage; ``attempts`` counts edit-API calls started (one retry
    # after an interruption); ``delivery`` lists the messages of the result already sent;
    # ``status_message`` is the platform id of the job's progress message, so any process can
    # replace or remove it.
    sa.Column("stage", sa.String(16), nullable=False, server_default=sa.text("'reserved'")),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("delivery", _json(), nullable=False, server_default=sa.text("'[]'")),
    sa.Column("status_message", sa.String(64), nullable=True),
    # scale-out (issue 14): the fencing token, bumped by every claim or takeover; and the place in
    # line the status message of a waiting job shows (so one process edits it when it changes).
    sa.Column("claims", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("shown_position", sa.Integer(), nullable=True),
    sa.UniqueConstraint("idempotency_key"),
    sa.CheckConstraint("credits >= 0 AND reserved_credits >= 0", name="credits_nonnegative"),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in JOB_STATUSES) + ")", name="status_valid"),
    sa.Index(None, "platform", "user_id", "status"),
    sa.Index(None, "status", "heartbeat_at"),
    # Reports: one community's jobs over a time range; exports over everything since a date.
    sa.Index(None, "platform", "community_id", "created_at"),
    sa.Index(None, "created_at"),
    # scale-out (issue 14): workers claim waiting jobs, oldest first per lane (core.storage.sql_queue).
    sa.Index(None, "status", "created_at"),
)
"""One row per edit, from reservation to result."""

job_results = sa.Table(
    "job_results",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("idx", sa.Integer(), primary_key=True),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)
"""The edit API's images of a job until its delivery is recorded: a crash then costs no second call."""

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("update_id", sa.String(64), primary_key=True),
    sa.Column("payload", _json(), nullable=False),
    # Who is handling it since when; an update whose handler died is handled again after a while.
    sa.Column("claimed_at", UTCDateTime(), nullable=False),
    sa.Column("worker_id", sa.String(128), nullable=True),
    # Set once handled; the row stays a day so a redelivery of it is recognised and skipped.
    sa.Column("handled_at", UTCDateTime(), nullable=True),
    # scale-out (issue 14): "chat:user" and the album (media_group_id), so processes sharing the
    # database apply a conversation's updates in order and collect an album's parts together.
    sa.Column("conversation", sa.String(160), nullable=True),
    sa.Column("media_group", sa.String(64), nullable=True),
    sa.Index(None, "claimed_at"),
    sa.Index(None, "platform", "conversation"),
    sa.Index(None, "platform", "media_group"),
)
"""Platform updates stored before their receipt is confirmed, kept a day after they were handled."""

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("scope_kind", sa.String(16), primary_key=True),
    sa.Column("scope_key", sa.String(128), primary_key=True),
    sa.Column("period_start", UTCDateTime(), primary_key=True),
    sa.Column("used", sa.Integer(), nullable=False, server_default=sa.text("0")),
    # Extra credits admins granted for this period (negative when they took some): a reservation
    # succeeds while used + credits <= limit + bonus.
    sa.Column("bonus", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.CheckConstraint("used >= 0", name="used_nonnegative"),
)
"""Credits used (committed plus reserved) per scope and quota period, and the period's grants."""

preferences = sa.Table(
    "preferences",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("user_id", _id(), primary_key=True),
    sa.Column("options", _json(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
"""A user's default edit options."""

LIMIT_KINDS = ("user", "member", "members", "community", "global")
"""Values of ``quota_limits.scope_kind`` (``core.quotas.limits.LimitKind``)."""

quota_limits = sa.Table(
    "quota_limits",
    metadata,
    sa.Column("scope_kind", sa.String(16), primary_key=True),
    sa.Column("scope_key", sa.String(128), primary_key=True),
    sa.Column("credit_limit", sa.Integer(), nullable=False),
    sa.Column("label", sa.String(255), nullable=True),
    sa.Column("updated_by", sa.String(128), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("credit_limit >= 0", name="credit_limit_nonnegative"),
    sa.CheckConstraint(
        "scope_kind IN (" + ", ".join(f"'{k}'" for k in LIMIT_KINDS) + ")", name="scope_kind_valid"
    ),
)
"""Limits admins and owners set, overriding the settings' defaults for one scope."""

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("user_id", _id(), primary_key=True),
    # A community's scope key, or "*" for everywhere.
    sa.Column("scope", sa.String(128), primary_key=True),
    sa.Column("label", sa.String(255), nullable=True),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
"""Users who may not edit in a community, or anywhere."""

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("actor_name", sa.String(255), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("community", sa.String(128), nullable=True),
    sa.Column("target", sa.String(128), nullable=True),
    sa.Column("target_name", sa.String(255), nullable=True),
    sa.Column("details", _json(), nullable=False),
    # Admins list their community's latest entries.
    sa.Index(None, "community", "id"),
)
"""Every change admins, owners and operators made: who, what, where, when."""

# -- scale-out (issue 14) -------------------------------------------------------------------
rate_budgets = sa.Table(
    "rate_budgets",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    # GCRA's theoretical arrival time, in seconds since the epoch on the database's clock.
    sa.Column("tat", sa.Float(), nullable=False),
)
"""Platform rate budgets shared by every process of a bot token (core.storage.sql_budget)."""

# -- owner alerts (issue 13) ------------------------------------------------------------------
owner_alerts = sa.Table(
    "owner_alerts",
    metadata,
    # core.alerts.AlertKind: balance, key, model, outage.
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    # NULL while the alert is open (the owners were told and no edit has succeeded since).
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
)
"""The owners' alerts, one row per kind, so several processes tell the owners once between them."""

# -- painter (issue 15) -----------------------------------------------------------------------
painter_drawings = sa.Table(
    "painter_drawings",
    metadata,
    # Random, unguessable; the ImageRef of a drawing is "painter:<id>" and only the job runner reads it.
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("user_id", _id(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Old drawings are purged by age.
    sa.Index(None, "created_at"),
)
"""Drawings made in the painter page: PNG bytes a mask reference points at."""

painter_nonces = sa.Table(
    "painter_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index(None, "expires_at"),
)
"""Single-use painter tokens already used (kept until they would have expired anyway)."""

# -- full-size results (issue 11) --------------------------------------------------------------
full_size_results = sa.Table(
    "full_size_results",
    metadata,
    # Not a foreign key: these rows outlive the job's own result rows (job_results) on purpose.
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("idx", sa.Integer(), primary_key=True),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    # When a "Full size" press last sent the files: a second press moments later sends nothing.
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Index(None, "expires_at"),
)
"""A result's original files, kept for a while behind the "Full size" button where the platform's
photo lost something (Telegram); purged when they expire."""
