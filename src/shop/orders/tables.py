"""Orders' tables: orders and lines it owns, and replicas of what users and catalog own.

A replica row carries the ``source_version`` of the event that wrote it, so an
older event arriving late never overwrites a newer one.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from tidings.storage.locking import version_columns
from tidings.storage.types import UTCDateTime, utcnow

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_method", String(40), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    *version_columns(),
    Index("ix_orders_user_id", "user_id"),
    Index("ix_orders_status", "status"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column(
        "order_id",
        String(36),
        ForeignKey("orders.id", ondelete="CASCADE", name="fk_order_lines_order_id"),
        primary_key=True,
    ),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", String(36), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
)

customer_replica = Table(
    "customer_replica",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("replicated_at", UTCDateTime, nullable=False, default=utcnow),
)

price_replica = Table(
    "price_replica",
    metadata,
    Column("product_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("replicated_at", UTCDateTime, nullable=False, default=utcnow),
)

order_history = Table(
    "order_history",
    metadata,
    # The read side (CQRS): one row per order, written only by the order-history
    # projection from orders' published events, never by the write model.
    Column("order_id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=True),
    Column("status", String(20), nullable=False),
    Column("total_cents", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("items", Integer, nullable=True),
    Column("reason", String(500), nullable=True),
    Column("placed_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_order_history_user_id", "user_id"),
)
