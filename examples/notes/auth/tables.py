"""The tables the auth service owns."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from tidings.storage.locking import version_columns
from tidings.storage.types import UTCDateTime

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    *version_columns(),
    UniqueConstraint("email", name="uq_users_email"),
)
