"""Fencing tokens and live queue positions (issue 14): ``jobs.claims`` counts the claims and
takeovers of a job, so a worker whose lease ran out while it stalled cannot write over the worker
that took its job over; ``jobs.shown_position`` is the place in line the job's status message
shows, so exactly one process edits it when the queue moves.

Revision ID: 0007_fencing
Revises: 0006_scale_out
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_fencing"
down_revision: str | None = "0006_scale_out"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``jobs.claims`` (0 for every existing job) and ``jobs.shown_position``."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("claims", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("shown_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("shown_position")
        batch.drop_column("claims")
