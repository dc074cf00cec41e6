"""payments: library tables (audit, outbox, inbox, dead letters), payments, append-only ledger.

Revision ID: payments_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox
from tidings.storage import append_only
from tidings.storage.types import BigIntId, UTCDateTime

revision = "payments_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()
    op.create_table(
        "payments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("order_id", name="uq_payments_order_id"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_ledger_entries_order_id", "ledger_entries", ["order_id"])
    # The database, not the code, keeps the ledger append-only.
    for statement in append_only.create_statements(ops.current_backend(), "ledger_entries"):
        op.execute(statement)


def downgrade() -> None:
    for statement in append_only.drop_statements(ops.current_backend(), "ledger_entries"):
        op.execute(statement)
    op.drop_table("ledger_entries")
    op.drop_table("payments")
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
    ops.drop_audit_log()
