"""The shapes inventory's API takes and returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shop.inventory.domain import Reservation, StockItem


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta: int = Field(description="Units counted in (positive) or out (negative); not 0")
    reason: str = Field(min_length=1, max_length=200)
    expected_version: int | None = Field(default=None, ge=0)


class ReservationLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=36)
    quantity: int = Field(ge=1)


class NewReservation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=36)
    lines: list[ReservationLine] = Field(min_length=1)


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
