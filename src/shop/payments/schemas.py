"""The shapes payments' operations take and return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from shop.common.validation import Amount, Identifier, Text, Version

CURRENCY_PATTERN = r"^[A-Z]{3}$"


class PaymentStatus(StrEnum):
    TAKEN = "taken"
    DECLINED = "declined"
    REFUNDED = "refunded"
    VOIDED = "voided"
    """The order gave up before any payment was made; none ever will be."""


class NewPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: Identifier
    amount_cents: Amount
    currency: Annotated[str, Text(3, pattern=CURRENCY_PATTERN)] = "EUR"
    method: Annotated[str, Text(40, min_length=1)] = "card"


class Refund(BaseModel):
    """A refund of a taken payment, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    reason: Annotated[str, Text(500)] = "refund requested"


class Payment(BaseModel):
    id: str
    order_id: str
    amount_cents: int
    currency: str
    method: str
    status: PaymentStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class LedgerEntry(BaseModel):
    id: int
    payment_id: str
    order_id: str
    kind: str
    amount_cents: int
    currency: str
    recorded_at: datetime


class LedgerTotals(BaseModel):
    charged_cents: int
    refunded_cents: int
    balance_cents: int
    entries: int
