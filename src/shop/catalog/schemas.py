"""The shapes the catalog's operations take and return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

CURRENCY_PATTERN = r"^[A-Z]{3}$"


class NewProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    price_cents: int = Field(ge=0)
    currency: str = Field(default="EUR", pattern=CURRENCY_PATTERN)


class ProductChange(BaseModel):
    """A change to a product, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    price_cents: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=CURRENCY_PATTERN)


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
