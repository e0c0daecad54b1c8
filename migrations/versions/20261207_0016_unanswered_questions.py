"""a partial index for the worker's look at "new or add?" questions left unanswered

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 01:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("state = 'new_or_add'")


def upgrade() -> None:
    op.create_index(
        "ix_conversation_new_or_add", "conversation", ["updated_at"], unique=False,
        sqlite_where=WHERE, postgresql_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_new_or_add", table_name="conversation")
