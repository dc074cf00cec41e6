"""Search publishes nothing; it consumes these catalog events."""

from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated

CONSUMES = (ProductCreated, ProductUpdated, PriceChanged, ProductDeleted)

__all__ = ["CONSUMES"]
