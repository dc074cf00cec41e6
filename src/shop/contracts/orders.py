"""What orders tells others: an order placed and its final outcome."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import Line, ShopCommand, ShopEvent, registry
from tidings.messages import Message


@registry.register("orders.OrderPlaced")
class OrderPlaced(ShopEvent):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    user_id: str
    lines: tuple[Line, ...]
    total_cents: int
    currency: str


@registry.register("orders.OrderConfirmed")
class OrderConfirmed(ShopEvent):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    user_id: str
    lines: tuple[Line, ...]
    total_cents: int
    currency: str


@registry.register("orders.OrderRejected")
class OrderRejected(ShopEvent):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


@registry.register("orders.OrderCancelled")
class OrderCancelled(ShopEvent):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


@registry.register("orders.ConfirmOrder")
class ConfirmOrder(ShopCommand):
    """The order saga's last step: stock held and payment taken, confirm the order."""

    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str


@registry.register("orders.OrderConfirmationRefused")
class OrderConfirmationRefused(ShopEvent):
    """The order could not be confirmed (the customer cancelled it meanwhile)."""

    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


COMMANDS: tuple[type[Message], ...] = (ConfirmOrder,)
EVENTS: tuple[type[Message], ...] = (
    OrderPlaced,
    OrderConfirmed,
    OrderRejected,
    OrderCancelled,
    OrderConfirmationRefused,
)
