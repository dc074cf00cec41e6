"""Inventory's aggregates, free of I/O: state is folded from events, and every
decision returns the events that record it (or refuses with an error).

Two kinds of stream:

* ``stock-<product id>``: InventoryAdjusted (stock counted in or out),
  InventoryReserved and InventoryReleased (held for an order, or let go);
* ``reservation-<order id>``: ReservationPlaced or ReservationRejected, then
  ReservationReleased: what the order holds, so a retried command finds its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tidings.eventstore.base import NewEvent

INVENTORY_ADJUSTED = "InventoryAdjusted"
INVENTORY_RESERVED = "InventoryReserved"
INVENTORY_RELEASED = "InventoryReleased"
RESERVATION_PLACED = "ReservationPlaced"
RESERVATION_REJECTED = "ReservationRejected"
RESERVATION_RELEASED = "ReservationReleased"


class StreamEvent(Protocol):
    """What folding needs of a stored event (a RecordedEvent has it)."""

    @property
    def type(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...

    @property
    def stream_version(self) -> int: ...


class StockRefused(Exception):
    """The stock cannot do what was asked (the message says why)."""


def stock_stream(product_id: str) -> str:
    return f"stock-{product_id}"


def reservation_stream(order_id: str) -> str:
    return f"reservation-{order_id}"


@dataclass(frozen=True)
class _Next:
    type: str
    data: Mapping[str, Any]
    stream_version: int


STOCK_SNAPSHOT = "StockItem"
"""The snapshot type of a stock stream's state."""


@dataclass
class StockItem:
    product_id: str
    on_hand: int = 0
    held: dict[str, int] = field(default_factory=dict)
    """Quantity held per order id."""
    version: int = 0

    @property
    def reserved(self) -> int:
        return sum(self.held.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def state(self) -> dict[str, Any]:
        """What a snapshot keeps (the version travels beside it)."""
        return {"on_hand": self.on_hand, "held": dict(self.held)}

    @classmethod
    def restore(cls, product_id: str, version: int, state: Mapping[str, Any]) -> StockItem:
        held = {str(order): int(quantity) for order, quantity in dict(state["held"]).items()}
        return cls(product_id, int(state["on_hand"]), held, version)

    def after(self, event: NewEvent) -> StockItem:
        """The state once ``event`` (about to be appended as the next version) applies."""
        copy = StockItem(self.product_id, self.on_hand, dict(self.held), self.version)
        copy.apply(_Next(event.type, event.data, self.version + 1))
        return copy

    def apply(self, event: StreamEvent) -> None:
        data = event.data
        if event.type == INVENTORY_ADJUSTED:
            self.on_hand += int(data["delta"])
        elif event.type == INVENTORY_RESERVED:
            self.held[str(data["order_id"])] = int(data["quantity"])
        elif event.type == INVENTORY_RELEASED:
            self.held.pop(str(data["order_id"]), None)
        self.version = event.stream_version

    def adjust(self, delta: int, reason: str) -> NewEvent:
        if delta == 0:
            raise StockRefused("an adjustment must change the stock")
        if self.on_hand + delta < self.reserved:
            raise StockRefused(
                f"product {self.product_id}: {self.on_hand} on hand, {self.reserved} reserved; "
                f"cannot take out {-delta}"
            )
        return NewEvent(INVENTORY_ADJUSTED, {"delta": delta, "reason": reason})

    def reserve(self, order_id: str, quantity: int) -> NewEvent:
        if quantity > self.available:
            raise StockRefused(
                f"product {self.product_id}: {quantity} wanted, {self.available} available"
            )
        return NewEvent(INVENTORY_RESERVED, {"order_id": order_id, "quantity": quantity})

    def release(self, order_id: str) -> NewEvent | None:
        if order_id not in self.held:
            return None
        return NewEvent(INVENTORY_RELEASED, {"order_id": order_id, "quantity": self.held[order_id]})


@dataclass
class Reservation:
    order_id: str
    status: str = "none"
    """none, placed, rejected or released."""
    quantities: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    version: int = 0

    def apply(self, event: StreamEvent) -> None:
        data: Mapping[str, Any] = event.data
        if event.type == RESERVATION_PLACED:
            self.status = "placed"
            self.quantities = {str(k): int(v) for k, v in dict(data["quantities"]).items()}
        elif event.type == RESERVATION_REJECTED:
            self.status = "rejected"
            self.reason = str(data["reason"])
        elif event.type == RESERVATION_RELEASED:
            self.status = "released"
        self.version = event.stream_version


def placed(quantities: Mapping[str, int]) -> NewEvent:
    return NewEvent(RESERVATION_PLACED, {"quantities": dict(quantities)})


def rejected(reason: str) -> NewEvent:
    return NewEvent(RESERVATION_REJECTED, {"reason": reason})


def released() -> NewEvent:
    return NewEvent(RESERVATION_RELEASED, {})
