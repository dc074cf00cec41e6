"""The shapes the catalog's operations take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from shop.common.validation import Money, Text, Version

CURRENCY_PATTERN = r"^[A-Z]{3}$"


class NewProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, Text(64, min_length=1)]
    name: Annotated[str, Text(200, min_length=1)]
    description: Annotated[str, Text(5000)] = ""
    price_cents: Money
    currency: Annotated[str, Text(3, pattern=CURRENCY_PATTERN)] = "EUR"


class ProductChange(BaseModel):
    """A change to a product, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    name: Annotated[str, Text(200, min_length=1)] | None = None
    description: Annotated[str, Text(5000)] | None = None
    price_cents: Money | None = None
    currency: Annotated[str, Text(3, pattern=CURRENCY_PATTERN)] | None = None


class Product(BaseModel):
    id: str
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    created_at: datetime
    updated_at: datetime
    version: int
