"""The shapes orders' operations take and return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shop.common.validation import MAX_ORDER_LINES, Identifier, Quantity, Text, Version


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.REJECTED, OrderStatus.CANCELLED})


class NewLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Identifier
    quantity: Quantity


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A customer's orders are theirs (the token says who); staff name the customer.
    user_id: Identifier | None = None
    lines: list[NewLine] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    payment_method: Annotated[str, Text(40, min_length=1)] = "card"


class Cancellation(BaseModel):
    """A customer's cancellation of a pending order, at the ``version`` they read."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    reason: Annotated[str, Text(500)] = "cancelled by the customer"


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
