"""review_sample: messages that never became tickets, sampled for supervisors to label

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("guess_category", sa.String(length=32), nullable=False),
        sa.Column("guess_subcategory", sa.String(length=64), nullable=True),
        sa.Column("guess_urgent", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("subcategory", sa.String(length=64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=True),
        sa.Column("labelled_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("labelled_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_review_sample_message_id_message"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["region_id"], ["region.id"], name=op.f("fk_review_sample_region_id_region")),
        sa.ForeignKeyConstraint(["labelled_by_id"], ["staff_user.id"],
                                name=op.f("fk_review_sample_labelled_by_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_sample")),
    )
    with op.batch_alter_table("review_sample", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_sample_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_sample_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_sample_region_id"), ["region_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_sample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_sample_region_id"))
        batch_op.drop_index(batch_op.f("ix_review_sample_message_id"))
        batch_op.drop_index(batch_op.f("ix_review_sample_created_at"))
    op.drop_table("review_sample")
