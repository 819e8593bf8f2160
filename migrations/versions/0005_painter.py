"""Painter: drawings made in the painter page, and the single-use tokens already spent.

Revision ID: 0005_painter
Revises: 0004_crash_safety
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
Follows 0004_crash_safety.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_painter"
down_revision: str | None = "0004_crash_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``painter_drawings`` and ``painter_nonces``."""
    op.create_table(
        "painter_drawings",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_painter_drawings")),
    )
    op.create_index(op.f("ix_painter_drawings_created_at"), "painter_drawings", ["created_at"])
    op.create_table(
        "painter_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_painter_nonces")),
    )
    op.create_index(op.f("ix_painter_nonces_expires_at"), "painter_nonces", ["expires_at"])


def downgrade() -> None:
    """Drop both tables (masks that pointed at drawings can no longer be fetched)."""
    op.drop_index(op.f("ix_painter_nonces_expires_at"), table_name="painter_nonces")
    op.drop_table("painter_nonces")
    op.drop_index(op.f("ix_painter_drawings_created_at"), table_name="painter_drawings")
    op.drop_table("painter_drawings")
