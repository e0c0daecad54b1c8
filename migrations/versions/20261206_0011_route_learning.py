"""route examples kept from corrections, and installed routing models

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("subcategory", sa.String(length=64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["staff_user.id"], name=op.f("fk_route_example_author_id_staff_user")),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name=op.f("fk_route_example_ticket_id_ticket")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_example")),
    )
    with op.batch_alter_table("route_example", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_example_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "route_model_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("rolled_back_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rolled_back_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["staff_user.id"],
                                name=op.f("fk_route_model_revision_author_id_staff_user")),
        sa.ForeignKeyConstraint(["rolled_back_by_id"], ["staff_user.id"],
                                name=op.f("fk_route_model_revision_rolled_back_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_model_revision")),
    )


def downgrade() -> None:
    op.drop_table("route_model_revision")
    with op.batch_alter_table("route_example", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_example_ticket_id"))
    op.drop_table("route_example")
