"""The events orders publishes (defined in :mod:`shop.contracts.orders`)."""

from shop.contracts.orders import (
    EVENTS,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
)

__all__ = ["EVENTS", "OrderCancelled", "OrderConfirmed", "OrderPlaced", "OrderRejected"]
