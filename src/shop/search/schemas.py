"""What search answers with."""

from __future__ import annotations

from pydantic import BaseModel


class Document(BaseModel):
    product_id: str
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    source_version: int


class Results(BaseModel):
    query: str
    ranked: bool
    items: list[Document]
