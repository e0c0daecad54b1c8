"""the supervisor's numbers at a province's scale: indexes for the clock rates (each due
time and each stop moment), closings and follow-up answers (models/stats.py)

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Name → the expression as models/stats.py writes it (a query uses an expression index
# only when it writes the same expression).
STOPPED = {
    "ix_ticket_claim_stopped": "coalesce(claimed_at, resolved_at, closed_at)",
    "ix_ticket_reply_stopped": "coalesce(first_response_at, resolved_at, closed_at)",
    "ix_ticket_resolve_stopped": "coalesce(resolved_at, closed_at)",
}
PLAIN = {
    "ix_ticket_claim_due_at": ("ticket", "claim_due_at"),
    "ix_ticket_first_reply_due_at": ("ticket", "first_reply_due_at"),
    "ix_ticket_resolve_due_at": ("ticket", "resolve_due_at"),
    "ix_ticket_closed_at": ("ticket", "closed_at"),
    "ix_follow_up_answered_at": ("follow_up", "answered_at"),
    "ix_ticket_redo_of_id": ("ticket", "redo_of_id"),
    "ix_ticket_urgent_created": ("ticket", ["urgent", "created_at"]),
}


def upgrade() -> None:
    for name, (table, column) in PLAIN.items():
        op.create_index(name, table, column if isinstance(column, list) else [column])
    for name, expression in STOPPED.items():
        op.create_index(name, "ticket", [sa.text(expression)])
    # The dashboard's overdue list in its order (only tickets with a running clock).
    running = sa.text("next_due_at IS NOT NULL")
    op.create_index("ix_ticket_overdue", "ticket", [sa.text("escalation_level DESC"), "next_due_at", "id"],
                    postgresql_where=running, sqlite_where=running)


def downgrade() -> None:
    op.drop_index("ix_ticket_overdue", table_name="ticket")
    for name in STOPPED:
        op.drop_index(name, table_name="ticket")
    for name, (table, _) in PLAIN.items():
        op.drop_index(name, table_name=table)
