"""orders: the inbox keeps each aggregate's last applied version, so events apply in order.

Revision ID: orders_0002
Revises: orders_0001
"""

from __future__ import annotations

from tidings.inbox import ops as inbox_ops

revision = "orders_0002"
down_revision = "orders_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_ops.create_inbox_positions()


def downgrade() -> None:
    inbox_ops.drop_inbox_positions()
