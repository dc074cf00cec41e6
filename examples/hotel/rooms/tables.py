"""The rooms service: how many rooms of each type, and which booking holds which."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from tidings.storage.types import UTCDateTime

metadata = MetaData()

room_types = Table(
    "room_types",
    metadata,
    Column("room_type", String(50), primary_key=True),
    Column("total", Integer, nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("booking_id", String(36), primary_key=True),
    Column("room_type", String(50), nullable=False),
    Column("room_number", Integer, nullable=True),
    # "reserved", or "released": a release that arrived first stays as a tombstone,
    # so a ReserveRoom delivered after its own compensation reserves nothing.
    Column("status", String(20), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: The hotel's rooms (a migration inserts them).
ROOMS = {"single": 20, "double": 30, "suite": 10, "penthouse": 0}
