"""The payments service: charges per booking and how often each was tried."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from tidings.storage.types import UTCDateTime

metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("payment_id", String(36), nullable=True),
    Column("amount_cents", Integer, nullable=False),
    # "charged", or "refunded" (also a tombstone when the refund came first).
    Column("status", String(20), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

charge_attempts = Table(
    "charge_attempts",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("attempts", Integer, nullable=False),
)
