"""the desk keeps up: ticket.unread_at (she wrote since the assignee last looked); canned replies in the database

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unread_at", models.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "canned_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["staff_user.id"], name=op.f("fk_canned_reply_updated_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_reply")),
    )
    # The replies are seeded from handlers/staff/canned_replies.yaml on first use
    # (handlers/staff/canned.py), so the shipped file stays the one place they start from.


def downgrade() -> None:
    op.drop_table("canned_reply")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("unread_at")
