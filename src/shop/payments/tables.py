"""Payments' tables: one payment per order, and the ledger of money moved.

The ledger is append-only at the database (triggers refuse UPDATE and DELETE): a
refund is a new, negative entry, never an edit of the charge.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, UniqueConstraint

from tidings.storage.locking import version_columns
from tidings.storage.types import BigIntId, UTCDateTime, utcnow

metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    *version_columns(),
    # One payment per order: a retried TakePayment finds the first instead of charging twice.
    UniqueConstraint("order_id", name="uq_payments_order_id"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("payment_id", String(36), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_ledger_entries_order_id", "order_id"),
)

APPEND_ONLY = ("audit_log", "ledger_entries")
