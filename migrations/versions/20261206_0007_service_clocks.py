"""service clocks, pauses, 督办, extensions, returns, redo links; staff alerts and their deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_user.id'], name=op.f('fk_staff_alert_assignee_id_staff_user')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_staff_alert_region_id_region')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_staff_alert_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_alert'))
    )
    with op.batch_alter_table('staff_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_alert_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_alert_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('alert_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['staff_alert.id'], name=op.f('fk_alert_delivery_alert_id_staff_alert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_delivery'))
    )
    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_delivery_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_alert_delivery_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_wecom', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('notify_telegram', sa.String(length=64), nullable=True))

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wechat_openid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('seen_at', models.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_reply_due_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('next_due_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('yellow_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sweep_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('swept_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('extension_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('extension_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('extension_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('extensions', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('returns', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('redo_of_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_ticket_status_urgent_next_due', ['status', 'urgent', 'next_due_at'], unique=False)
        batch_op.create_index('ix_ticket_sweep_at', ['sweep_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_ticket_redo_of_id_ticket'), 'ticket', ['redo_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_ticket_extension_by_id_staff_user'), 'staff_user', ['extension_by_id'], ['id'])

    # Open tickets get their nearest deadline for the queue, and the sweep looks at each
    # once (tickets older than this have no first-reply clock).
    op.execute(
        "UPDATE ticket SET next_due_at = CASE WHEN claimed_at IS NULL THEN claim_due_at ELSE resolve_due_at END,"
        " sweep_at = updated_at, swept_until = updated_at WHERE status IN ('new', 'claimed')"
    )


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ticket_extension_by_id_staff_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_ticket_redo_of_id_ticket'), type_='foreignkey')
        batch_op.drop_index('ix_ticket_sweep_at')
        batch_op.drop_index('ix_ticket_status_urgent_next_due')
        batch_op.drop_column('redo_of_id')
        batch_op.drop_column('returns')
        batch_op.drop_column('extensions')
        batch_op.drop_column('extension_by_id')
        batch_op.drop_column('extension_reason')
        batch_op.drop_column('extension_until')
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('swept_until')
        batch_op.drop_column('sweep_at')
        batch_op.drop_column('yellow_at')
        batch_op.drop_column('next_due_at')
        batch_op.drop_column('pause_reason')
        batch_op.drop_column('pause_until')
        batch_op.drop_column('paused_at')
        batch_op.drop_column('first_reply_due_at')

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('seen_at')
        batch_op.drop_column('wechat_openid')

    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_column('notify_telegram')
        batch_op.drop_column('notify_wecom')

    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_delivery_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_alert_delivery_alert_id'))

    op.drop_table('alert_delivery')
    with op.batch_alter_table('staff_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_alert_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_staff_alert_created_at'))

    op.drop_table('staff_alert')
