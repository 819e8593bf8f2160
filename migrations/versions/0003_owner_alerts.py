"""Owner alerts: one row per alert kind, claimed by the process that tells the owners.

Revision ID: 0003_owner_alerts
Revises: 0002
Create Date: 2026-11-30

Written by hand and checked against ``core.storage.tables`` by tests/integration/test_migrations.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_owner_alerts"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``owner_alerts``."""
    op.create_table(
        "owner_alerts",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_owner_alerts")),
    )


def downgrade() -> None:
    """Drop ``owner_alerts`` (open alerts are forgotten; the next failure alerts again)."""
    op.drop_table("owner_alerts")
