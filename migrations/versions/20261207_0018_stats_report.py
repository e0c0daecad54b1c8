"""stats_report: counted reports shared by every process (models/stats_store.py)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_report",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("first", sa.Date(), nullable=False),
        sa.Column("last", sa.Date(), nullable=False),
        sa.Column("counted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wanted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stats_report")),
    )
    with op.batch_alter_table("stats_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stats_report_counted_at"), ["counted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stats_report_wanted_at"), ["wanted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stats_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stats_report_wanted_at"))
        batch_op.drop_index(batch_op.f("ix_stats_report_counted_at"))
    op.drop_table("stats_report")
