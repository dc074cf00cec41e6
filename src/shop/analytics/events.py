"""Analytics publishes nothing; it consumes these orders events."""

from shop.contracts.orders import OrderConfirmed

CONSUMES = (OrderConfirmed,)

__all__ = ["CONSUMES"]
