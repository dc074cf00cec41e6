"""Inventory's commands (what the order saga asks) and events (what happened)."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import Line, ShopCommand, ShopEvent, registry
from tidings.messages import Message


@registry.register("inventory.ReserveStock")
class ReserveStock(ShopCommand):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    lines: tuple[Line, ...]


@registry.register("inventory.ReleaseStock")
class ReleaseStock(ShopCommand):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str


@registry.register("inventory.StockReserved")
class StockReserved(ShopEvent):
    aggregate_type: ClassVar[str] = "reservation"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    lines: tuple[Line, ...]


@registry.register("inventory.StockReservationRejected")
class StockReservationRejected(ShopEvent):
    aggregate_type: ClassVar[str] = "reservation"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


@registry.register("inventory.StockReleased")
class StockReleased(ShopEvent):
    aggregate_type: ClassVar[str] = "reservation"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str


@registry.register("inventory.StockAdjusted")
class StockAdjusted(ShopEvent):
    aggregate_type: ClassVar[str] = "stock"
    aggregate_key: ClassVar[str] = "product_id"

    product_id: str
    delta: int
    on_hand: int


COMMANDS: tuple[type[Message], ...] = (ReserveStock, ReleaseStock)
EVENTS: tuple[type[Message], ...] = (
    StockReserved,
    StockReservationRejected,
    StockReleased,
    StockAdjusted,
)
