"""Scale-out (issue 14): the jobs table is the shared queue (an index for claiming in fair order);
stored updates know their conversation and album (ordering and albums across processes); platform
rate budgets shared by every process (``rate_budgets``).

Revision ID: 0006_scale_out
Revises: 0005_painter
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
Self-contained: it only adds (and on downgrade drops) what issue 14 needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_scale_out"
down_revision: str | None = "0005_painter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the waiting jobs by status and age (claims and queue positions scan them); give
    stored updates their conversation and album."""
    op.create_index(op.f("ix_jobs_status_created_at"), "jobs", ["status", "created_at"])
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("conversation", sa.String(160), nullable=True))
        batch.add_column(sa.Column("media_group", sa.String(64), nullable=True))
    op.create_index(op.f("ix_inbox_platform_conversation"), "inbox", ["platform", "conversation"])
    op.create_index(op.f("ix_inbox_platform_media_group"), "inbox", ["platform", "media_group"])
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_budgets")),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("rate_budgets")
    op.drop_index(op.f("ix_inbox_platform_media_group"), table_name="inbox")
    op.drop_index(op.f("ix_inbox_platform_conversation"), table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("media_group")
        batch.drop_column("conversation")
    op.drop_index(op.f("ix_jobs_status_created_at"), table_name="jobs")
