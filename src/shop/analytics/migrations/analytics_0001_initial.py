"""analytics: the audit log, inbox and dead letters (the sales facts live in ClickHouse).

Revision ID: analytics_0001
Revises:
"""

from __future__ import annotations

from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops

revision = "analytics_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()


def downgrade() -> None:
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    ops.drop_audit_log()
