"""The shapes payments' operations take and return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

CURRENCY_PATTERN = r"^[A-Z]{3}$"


class PaymentStatus(StrEnum):
    TAKEN = "taken"
    DECLINED = "declined"
    REFUNDED = "refunded"
    VOIDED = "voided"
    """The order gave up before any payment was made; none ever will be."""


class NewPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=36)
    amount_cents: int = Field(gt=0)
    currency: str = Field(default="EUR", pattern=CURRENCY_PATTERN)
    method: str = Field(default="card", min_length=1, max_length=40)


class Refund(BaseModel):
    """A refund of a taken payment, based on the ``version`` the client read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    reason: str = Field(default="refund requested", max_length=500)


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
