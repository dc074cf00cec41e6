"""inventory: the audit log, outbox, inbox, dead letters and the event store (its streams).

Revision ID: inventory_0001
Revises:
"""

from __future__ import annotations

from tidings.eventstore.schema import create_event_store, drop_event_store
from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox

revision = "inventory_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()
    create_event_store()


def downgrade() -> None:
    drop_event_store()
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
    ops.drop_audit_log()
