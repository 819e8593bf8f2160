"""Initial schema: conversations, jobs, usage, preferences.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
Types are spelled out here rather than imported (a revision must not change when tables.py does):
``DateTime(timezone=True)`` is what ``tables.UTCDateTime`` stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the four tables with their keys, checks and indexes."""
    op.create_table(
        "conversations",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("mask", sa.JSON(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "user_id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_updated_at"), "conversations", ["updated_at"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("community_id", sa.String(64), nullable=True),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("mask", sa.JSON(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("reserved_credits", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _when("period_start", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_kind", sa.String(64), nullable=True),
        sa.Column("usage_tokens", sa.Integer(), nullable=True),
        sa.Column("estimated_cost", sa.Float(), nullable=True),
        sa.Column("result_refs", sa.JSON(), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        _when("created_at", nullable=False),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        _when("heartbeat_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
        sa.CheckConstraint(
            "credits >= 0 AND reserved_credits >= 0", name=op.f("ck_jobs_credits_nonnegative")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_jobs_status_valid"),
        ),
    )
    op.create_index(op.f("ix_jobs_platform_user_id_status"), "jobs", ["platform", "user_id", "status"])
    op.create_index(op.f("ix_jobs_status_heartbeat_at"), "jobs", ["status", "heartbeat_at"])

    op.create_table(
        "usage",
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_key", sa.String(128), nullable=False),
        _when("period_start", nullable=False),
        sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_key", "period_start", name=op.f("pk_usage")),
        sa.CheckConstraint("used >= 0", name=op.f("ck_usage_used_nonnegative")),
    )

    op.create_table(
        "preferences",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id", name=op.f("pk_preferences")),
    )


def downgrade() -> None:
    """Drop everything :func:`upgrade` created."""
    op.drop_table("preferences")
    op.drop_table("usage")
    op.drop_index(op.f("ix_jobs_status_heartbeat_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_platform_user_id_status"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_conversations_updated_at"), table_name="conversations")
    op.drop_table("conversations")
