"""The users service's tables: the user and their profile."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from tidings.storage.locking import version_columns
from tidings.storage.types import UTCDateTime, utcnow

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("address", String(500), nullable=True),
    # An argon2 hash (PHC string, algorithm and parameters included); never the password.
    Column("password_hash", String(255), nullable=True),
    Column("role", String(20), nullable=False, server_default="customer"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    *version_columns(),
    UniqueConstraint("email", name="uq_users_email"),
)
