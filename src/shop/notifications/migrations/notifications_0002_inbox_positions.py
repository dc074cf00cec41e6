"""notifications: the inbox keeps each aggregate's last applied version, so events apply in order.

Revision ID: notifications_0002
Revises: notifications_0001
"""

from __future__ import annotations

from tidings.inbox import ops as inbox_ops

revision = "notifications_0002"
down_revision = "notifications_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_ops.create_inbox_positions()


def downgrade() -> None:
    inbox_ops.drop_inbox_positions()
