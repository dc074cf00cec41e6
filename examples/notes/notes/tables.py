"""The tables the notes service owns."""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from tidings.storage.locking import version_columns
from tidings.storage.types import UTCDateTime

metadata = MetaData()

notes = Table(
    "notes",
    metadata,
    Column("id", String(36), primary_key=True),
    # A user of the auth service, by value: no foreign key crosses a service boundary.
    Column("user_id", String(36), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    *version_columns(),
    Index("ix_notes_user_id", "user_id"),
)
