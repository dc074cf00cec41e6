"""What the catalog tells others: products and their prices."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import ShopEvent, registry
from tidings.messages import Message


@registry.register("catalog.ProductCreated")
class ProductCreated(ShopEvent):
    aggregate_type: ClassVar[str] = "product"
    aggregate_key: ClassVar[str] = "product_id"

    product_id: str
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    version: int


@registry.register("catalog.ProductUpdated")
class ProductUpdated(ShopEvent):
    """Name or description changed (the price travels as :class:`PriceChanged`)."""

    aggregate_type: ClassVar[str] = "product"
    aggregate_key: ClassVar[str] = "product_id"

    product_id: str
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    version: int


@registry.register("catalog.PriceChanged")
class PriceChanged(ShopEvent):
    aggregate_type: ClassVar[str] = "product"
    aggregate_key: ClassVar[str] = "product_id"

    product_id: str
    price_cents: int
    currency: str
    version: int


@registry.register("catalog.ProductDeleted")
class ProductDeleted(ShopEvent):
    aggregate_type: ClassVar[str] = "product"
    aggregate_key: ClassVar[str] = "product_id"

    product_id: str
    version: int


EVENTS: tuple[type[Message], ...] = (ProductCreated, ProductUpdated, PriceChanged, ProductDeleted)
