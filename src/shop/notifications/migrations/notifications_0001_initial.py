"""notifications: the audit log, outbox, inbox, dead letters and the notifications table.

Revision ID: notifications_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox
from tidings.storage.types import UTCDateTime

revision = "notifications_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
    ops.drop_audit_log()
