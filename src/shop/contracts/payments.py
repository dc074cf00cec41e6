"""Payments' commands (take, refund) and events (taken, declined, refunded)."""

from __future__ import annotations

from typing import ClassVar

from shop.contracts.base import ShopCommand, ShopEvent, registry
from tidings.messages import Message


@registry.register("payments.TakePayment")
class TakePayment(ShopCommand):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    amount_cents: int
    currency: str
    method: str


@registry.register("payments.RefundPayment")
class RefundPayment(ShopCommand):
    aggregate_type: ClassVar[str] = "order"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


@registry.register("payments.PaymentTaken")
class PaymentTaken(ShopEvent):
    aggregate_type: ClassVar[str] = "payment"
    aggregate_key: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    amount_cents: int
    currency: str


@registry.register("payments.PaymentDeclined")
class PaymentDeclined(ShopEvent):
    aggregate_type: ClassVar[str] = "payment"
    aggregate_key: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    reason: str


@registry.register("payments.PaymentRefunded")
class PaymentRefunded(ShopEvent):
    aggregate_type: ClassVar[str] = "payment"
    aggregate_key: ClassVar[str] = "payment_id"

    payment_id: str
    order_id: str
    amount_cents: int
    currency: str


COMMANDS: tuple[type[Message], ...] = (TakePayment, RefundPayment)


@registry.register("payments.RefundNotNeeded")
class RefundNotNeeded(ShopEvent):
    """The answer to RefundPayment when no money was taken: the order's payment was
    declined, or never made (it is voided, so a late TakePayment cannot charge)."""

    aggregate_type: ClassVar[str] = "payment"
    aggregate_key: ClassVar[str] = "order_id"

    order_id: str
    reason: str


EVENTS: tuple[type[Message], ...] = (
    PaymentTaken,
    PaymentDeclined,
    PaymentRefunded,
    RefundNotNeeded,
)
