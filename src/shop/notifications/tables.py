"""Notifications' table: one row per notification sent, keyed by its idempotency key."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text, UniqueConstraint

from tidings.storage.types import UTCDateTime, utcnow

metadata = MetaData()

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False, default=utcnow),
    # The key is what makes a redelivered SendNotification a no-op.
    UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
)
