"""The catalog's tables: products with their current price."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text, UniqueConstraint

from tidings.storage.locking import version_columns
from tidings.storage.types import UTCDateTime, utcnow

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    *version_columns(),
    UniqueConstraint("sku", name="uq_products_sku"),
)
