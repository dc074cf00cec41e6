"""The shapes inventory's API takes and returns."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shop.common.validation import (
    MAX_ORDER_LINES,
    ExpectedVersion,
    Identifier,
    Quantity,
    StockDelta,
    Text,
)
from shop.inventory.domain import Reservation, StockItem


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta: StockDelta
    reason: Annotated[str, Text(200, min_length=1)]
    expected_version: ExpectedVersion | None = None


class ReservationLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Identifier
    quantity: Quantity


class NewReservation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: Identifier
    lines: list[ReservationLine] = Field(min_length=1, max_length=MAX_ORDER_LINES)


class Stock(BaseModel):
    product_id: str
    on_hand: int
    reserved: int
    available: int
    version: int

    @classmethod
    def of(cls, item: StockItem) -> Stock:
        return cls(
            product_id=item.product_id,
            on_hand=item.on_hand,
            reserved=item.reserved,
            available=item.available,
            version=item.version,
        )


class ReservationView(BaseModel):
    order_id: str
    status: str
    quantities: dict[str, int]
    reason: str | None
    version: int

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationView:
        return cls(
            order_id=reservation.order_id,
            status=reservation.status,
            quantities=reservation.quantities,
            reason=reservation.reason,
            version=reservation.version,
        )
