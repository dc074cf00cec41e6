"""The shopping cart's domain: events and the aggregate. No I/O here.

``ItemAdded`` changed shape twice; old events stay as they were stored and are
upcast on read (see :data:`upcasters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tidings.eventstore.aggregate import Aggregate, DomainEvent
from tidings.eventstore.upcasting import Upcasters


class CartCreated(DomainEvent):
    customer: str


class ItemAdded(DomainEvent):
    schema_version: ClassVar[int] = 3
    sku: str
    quantity: int
    price_cents: int


class ItemRemoved(DomainEvent):
    sku: str


class ItemQuantityChanged(DomainEvent):
    sku: str
    quantity: int


class CartAbandoned(DomainEvent):
    reason: str


upcasters = Upcasters()


@upcasters.register("ItemAdded", 1)
def _price_in_cents(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the price as a float of euros."""
    price = data.pop("price")
    return {**data, "price_cents": round(float(price) * 100)}


@upcasters.register("ItemAdded", 2)
def _explicit_quantity(data: dict[str, Any]) -> dict[str, Any]:
    """Versions 1 and 2 added one item at a time."""
    return {"quantity": 1, **data}


class CartError(Exception):
    """A command the cart's rules refuse."""


class Cart(Aggregate):
    event_types: ClassVar[tuple[type[DomainEvent], ...]] = (
        CartCreated,
        ItemAdded,
        ItemRemoved,
        ItemQuantityChanged,
        CartAbandoned,
    )
    snapshot_every: ClassVar[int | None] = 5

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.customer = ""
        self.lines: dict[str, dict[str, int]] = {}
        self.abandoned = False

    # Commands: check the rules, then record what happened.
    @classmethod
    def create(cls, cart_id: str, customer: str) -> Cart:
        cart = cls(cart_id)
        cart.record(CartCreated(customer=customer))
        return cart

    def add_item(self, sku: str, quantity: int, price_cents: int) -> None:
        self._check_open()
        if quantity <= 0:
            raise CartError("quantity must be positive")
        if sku in self.lines:
            self.change_quantity(sku, self.lines[sku]["quantity"] + quantity)
            return
        self.record(ItemAdded(sku=sku, quantity=quantity, price_cents=price_cents))

    def change_quantity(self, sku: str, quantity: int) -> None:
        self._check_open()
        if sku not in self.lines:
            raise CartError(f"{sku} is not in the cart")
        if quantity <= 0:
            self.remove_item(sku)
            return
        self.record(ItemQuantityChanged(sku=sku, quantity=quantity))

    def remove_item(self, sku: str) -> None:
        self._check_open()
        if sku not in self.lines:
            raise CartError(f"{sku} is not in the cart")
        self.record(ItemRemoved(sku=sku))

    def abandon(self, reason: str) -> None:
        self._check_open()
        self.record(CartAbandoned(reason=reason))

    def _check_open(self) -> None:
        if self.abandoned:
            raise CartError("the cart was abandoned")

    # State: what the events say.
    def apply(self, event: DomainEvent) -> None:
        match event:
            case CartCreated(customer=customer):
                self.customer = customer
            case ItemAdded(sku=sku, quantity=quantity, price_cents=price):
                self.lines[sku] = {"quantity": quantity, "price_cents": price}
            case ItemQuantityChanged(sku=sku, quantity=quantity):
                self.lines[sku]["quantity"] = quantity
            case ItemRemoved(sku=sku):
                del self.lines[sku]
            case CartAbandoned():
                self.abandoned = True

    @property
    def total_cents(self) -> int:
        return sum(line["quantity"] * line["price_cents"] for line in self.lines.values())

    def snapshot(self) -> dict[str, Any]:
        return {"customer": self.customer, "lines": self.lines, "abandoned": self.abandoned}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.customer = state["customer"]
        self.lines = {sku: dict(line) for sku, line in state["lines"].items()}
        self.abandoned = state["abandoned"]
