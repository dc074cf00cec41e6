"""The shapes orders' operations take and return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.REJECTED, OrderStatus.CANCELLED})


class NewLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=36)
    quantity: int = Field(ge=1, le=10_000)


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A customer's orders are theirs (the token says who); staff name the customer.
    user_id: str | None = Field(default=None, min_length=1, max_length=36)
    lines: list[NewLine] = Field(min_length=1, max_length=100)
    payment_method: str = Field(default="card", min_length=1, max_length=40)


class Cancellation(BaseModel):
    """A customer's cancellation of a pending order, at the ``version`` they read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    reason: str = Field(default="cancelled by the customer", max_length=500)


class OrderLine(BaseModel):
    line_no: int
    product_id: str
    quantity: int
    unit_price_cents: int


class Order(BaseModel):
    id: str
    user_id: str
    status: OrderStatus
    total_cents: int
    currency: str
    payment_method: str
    reason: str | None
    lines: list[OrderLine]
    created_at: datetime
    updated_at: datetime
    version: int


class Customer(BaseModel):
    user_id: str
    email: str
    name: str
    source_version: int


class Price(BaseModel):
    product_id: str
    name: str
    price_cents: int
    currency: str
    source_version: int
