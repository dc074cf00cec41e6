"""The notifications service: one confirmation per booking, sent once."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from tidings.storage.types import UTCDateTime

metadata = MetaData()

sent_notifications = Table(
    "sent_notifications",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("guest", String(200), nullable=False),
    Column("room_number", Integer, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
)
