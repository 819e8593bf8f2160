"""Admin quotas: grants on usage rows, limit overrides, blocks, the audit log, report indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
Existing usage rows get a bonus of 0; nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add ``usage.bonus``, the three admin tables and two indexes on ``jobs``."""
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("bonus", sa.Integer(), server_default=sa.text("0"), nullable=False))

    op.create_index(
        op.f("ix_jobs_platform_community_id_created_at"), "jobs", ["platform", "community_id", "created_at"]
    )
    op.create_index(op.f("ix_jobs_created_at"), "jobs", ["created_at"])

    op.create_table(
        "quota_limits",
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_key", sa.String(128), nullable=False),
        sa.Column("credit_limit", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(255), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_key", name=op.f("pk_quota_limits")),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_quota_limits_credit_limit_nonnegative")),
        sa.CheckConstraint(
            "scope_kind IN ('user', 'member', 'members', 'community', 'global')",
            name=op.f("ck_quota_limits_scope_kind_valid"),
        ),
    )

    op.create_table(
        "blocks",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("label", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id", "scope", name=op.f("pk_blocks")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _when("at", nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(255), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=True),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("target_name", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_community_id"), "audit_log", ["community", "id"])


def downgrade() -> None:
    """Drop everything :func:`upgrade` added (grants, limits, blocks and the audit log are lost)."""
    op.drop_index(op.f("ix_audit_log_community_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("blocks")
    op.drop_table("quota_limits")
    op.drop_index(op.f("ix_jobs_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_platform_community_id_created_at"), table_name="jobs")
    # Rebuilt on SQLite from the reflected table, CHECK constraint included (a test checks it).
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("bonus")
