"""webhook nonces (a signed pair let in with one message only); ticket.anonymised_at (retention)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("timestamp", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("body_digest", sa.String(length=64), nullable=False),
        sa.Column("seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_nonce")),
        sa.UniqueConstraint("channel", "timestamp", "nonce", name=op.f("uq_webhook_nonce_channel_timestamp_nonce")),
    )
    with op.batch_alter_table("webhook_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_nonce_seen_at"), ["seen_at"], unique=False)
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
    with op.batch_alter_table("webhook_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_nonce_seen_at"))
    op.drop_table("webhook_nonce")
