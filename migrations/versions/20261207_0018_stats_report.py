"""stats_report: counted reports shared by every process (models/stats_store.py); the
overdue list's index holds only open tickets, with their region

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


# models.ticket.OPEN_STATUSES, as the overdue list writes it (the planner matches the
# index's condition to the query's).
OPEN = sa.text("status IN ('new', 'claimed')")
RUNNING = sa.text("next_due_at IS NOT NULL")
COLUMNS = [sa.text("escalation_level DESC"), "next_due_at", "id"]


def upgrade() -> None:
    op.drop_index("ix_ticket_overdue", table_name="ticket")
    op.create_index("ix_ticket_overdue", "ticket", COLUMNS, postgresql_include=["region_id"],
                    postgresql_where=OPEN, sqlite_where=OPEN)
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
    op.drop_index("ix_ticket_overdue", table_name="ticket")
    op.create_index("ix_ticket_overdue", "ticket", COLUMNS, postgresql_where=RUNNING, sqlite_where=RUNNING)
