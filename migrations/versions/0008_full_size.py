"""Full-size results (issue 11): a result's original files, kept for ``EDITBOT_FULL_SIZE_HOURS``
behind a "Full size" button instead of being sent with every photo Telegram recompresses.

Revision ID: 0008_full_size
Revises: 0007_fencing
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_full_size"
down_revision: str | None = "0007_fencing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``full_size_results``."""
    op.create_table(
        "full_size_results",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "idx", name=op.f("pk_full_size_results")),
    )
    op.create_index(op.f("ix_full_size_results_expires_at"), "full_size_results", ["expires_at"])


def downgrade() -> None:
    """Drop the table (the "Full size" buttons already shown then answer that the files are gone)."""
    op.drop_index(op.f("ix_full_size_results_expires_at"), table_name="full_size_results")
    op.drop_table("full_size_results")
