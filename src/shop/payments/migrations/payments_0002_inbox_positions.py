"""payments: the inbox keeps each aggregate's last applied version, so events apply in order.

Revision ID: payments_0002
Revises: payments_0001
"""

from __future__ import annotations

from tidings.inbox import ops as inbox_ops

revision = "payments_0002"
down_revision = "payments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_ops.create_inbox_positions()


def downgrade() -> None:
    inbox_ops.drop_inbox_positions()
