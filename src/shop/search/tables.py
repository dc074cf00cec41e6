"""Search's table: one document per product, a projection of the catalog's events."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from tidings.storage.types import UTCDateTime, utcnow

metadata = MetaData()

documents = Table(
    "search_documents",
    metadata,
    Column("product_id", String(36), primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source_version", Integer, nullable=False),
    Column("indexed_at", UTCDateTime, nullable=False, default=utcnow),
)
