"""cart: the event store (events, append-only; snapshots) and the audit log.

Revision ID: cart_0001
Revises:
"""

from __future__ import annotations

from tidings.eventstore.schema import create_event_store, drop_event_store
from tidings.migrations import ops

revision = "cart_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_store()
    ops.create_audit_log()


def downgrade() -> None:
    ops.drop_audit_log()
    drop_event_store()
