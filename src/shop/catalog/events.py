"""The events the catalog publishes (defined in :mod:`shop.contracts.catalog`)."""

from shop.contracts.catalog import (
    EVENTS,
    PriceChanged,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
)

__all__ = ["EVENTS", "PriceChanged", "ProductCreated", "ProductDeleted", "ProductUpdated"]
