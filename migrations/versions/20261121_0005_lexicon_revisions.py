"""lexicon revisions saved by supervisors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 05:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lexicon_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["staff_user.id"], name=op.f("fk_lexicon_revision_author_id_staff_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lexicon_revision")),
    )


def downgrade() -> None:
    op.drop_table("lexicon_revision")
