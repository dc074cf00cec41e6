"""orders: library tables (audit, outbox, inbox, dead letters, sagas), orders, lines, replicas.

Revision ID: orders_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.inbox import ops as inbox_ops
from tidings.migrations import ops
from tidings.outbox.schema import create_outbox, drop_outbox
from tidings.sagas import migrations as saga_ops
from tidings.storage.types import UTCDateTime

revision = "orders_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    ops.create_audit_log()
    create_outbox()
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()
    saga_ops.create_saga_tables()
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_orders_user_id", "orders", ["user_id"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], ondelete="CASCADE", name="fk_order_lines_order_id"
        ),
    )
    op.create_table(
        "customer_replica",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("replicated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "price_replica",
        sa.Column("product_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("replicated_at", UTCDateTime, nullable=False),
    )

    op.create_table(
        "order_history",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_cents", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("items", sa.Integer, nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("placed_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_order_history_user_id", "order_history", ["user_id"])


def downgrade() -> None:
    saga_ops.drop_saga_tables()
    op.drop_table("order_history")
    op.drop_table("price_replica")
    op.drop_table("customer_replica")
    op.drop_table("order_lines")
    op.drop_table("orders")
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    drop_outbox()
    ops.drop_audit_log()
