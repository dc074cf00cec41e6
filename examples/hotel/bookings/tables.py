"""The bookings service's own table: one row per booking, its status kept by the saga."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from tidings.storage.types import UTCDateTime

metadata = MetaData()

bookings = Table(
    "bookings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("guest", String(200), nullable=False),
    Column("room_type", String(50), nullable=False),
    Column("nights", Integer, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("card", String(50), nullable=False),
    Column("status", String(30), nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
