"""Crash safety: job stages, recorded deliveries, stored status messages, kept results, an inbox.

Revision ID: 0004_crash_safety
Revises: 0003_owner_alerts
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
Existing jobs get stage ``reserved``, no attempts and no delivery: an unfinished one is then run
from the start by whichever process recovers it, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_crash_safety"
down_revision: str | None = "0003_owner_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the jobs' crash-safety columns, ``job_results`` and ``inbox``."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("stage", sa.String(16), server_default=sa.text("'reserved'"), nullable=False)
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("delivery", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.add_column(sa.Column("status_message", sa.String(64), nullable=True))
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "idx", name=op.f("pk_job_results")),
    )
    op.create_table(
        "inbox",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("platform", "update_id", name=op.f("pk_inbox")),
    )
    op.create_index(op.f("ix_inbox_claimed_at"), "inbox", ["claimed_at"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index(op.f("ix_inbox_claimed_at"), table_name="inbox")
    op.drop_table("inbox")
    op.drop_table("job_results")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("status_message")
        batch.drop_column("delivery")
        batch.drop_column("attempts")
        batch.drop_column("stage")
