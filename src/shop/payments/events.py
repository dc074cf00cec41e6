"""The commands payments takes and the events it publishes (:mod:`shop.contracts.payments`)."""

from shop.contracts.payments import (
    COMMANDS,
    EVENTS,
    PaymentDeclined,
    PaymentRefunded,
    PaymentTaken,
    RefundPayment,
    TakePayment,
)

__all__ = [
    "COMMANDS",
    "EVENTS",
    "PaymentDeclined",
    "PaymentRefunded",
    "PaymentTaken",
    "RefundPayment",
    "TakePayment",
]
