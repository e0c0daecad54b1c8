"""ticket.safe_contact_time (her safe time, in her words); message media kept on disk

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-06 23:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("safe_contact_time", sa.String(length=100), nullable=True))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("media_path", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("media_type", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("media_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("media_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_message_media_state"), ["media_state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_media_state"))
        for column in ("media_attempts", "media_size", "media_type", "media_path", "media_state"):
            batch_op.drop_column(column)
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("safe_contact_time")
