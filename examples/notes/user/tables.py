"""The tables the user service owns."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text

from tidings.storage.locking import version_columns

metadata = MetaData()

profiles = Table(
    "profiles",
    metadata,
    # The auth service's user id, by value: no foreign key crosses a service boundary.
    Column("user_id", String(36), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("bio", Text, nullable=False),
    *version_columns(),
)
