"""Payments' consumer of the order saga's commands, behind the inbox.

Each command runs in the consumer's unit of work: the inbox row, the payment,
the ledger entry and the reply commit together. A command delivered again under
a new id (the saga retried) gets the first answer again, with no second charge.
"""

from __future__ import annotations

from shop.common.messaging import ReplyPublisher
from shop.contracts.base import registry
from shop.contracts.payments import RefundNotNeeded, RefundPayment, TakePayment
from shop.payments.schemas import NewPayment, PaymentStatus, Refund
from shop.payments.service import PaymentsService, outcome_of
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.uow import UnitOfWork


def commands_consumer(service: PaymentsService) -> Consumer:
    consumer = Consumer("commands", service.database, registry)

    @consumer.handles(TakePayment)
    async def take(uow: UnitOfWork, command: TakePayment, envelope: Envelope) -> None:
        reply = ReplyPublisher(envelope)
        new = NewPayment(
            order_id=command.order_id,
            amount_cents=command.amount_cents,
            currency=command.currency,
            method=command.method,
        )
        payment, created = await service.take_in(uow, new, reply)
        if not created:
            await reply.publish(uow, outcome_of(payment))

    @consumer.handles(RefundPayment)
    async def refund(uow: UnitOfWork, command: RefundPayment, envelope: Envelope) -> None:
        reply = ReplyPublisher(envelope)
        payment = await service.by_order_in(uow, command.order_id)
        if payment is None:
            await service.void_in(uow, command.order_id, f"voided: {command.reason}")
            await reply.publish(
                uow, RefundNotNeeded(order_id=command.order_id, reason="no payment was made")
            )
        elif payment.status is PaymentStatus.TAKEN:
            await service.refund_in(
                uow, payment.id, Refund(version=payment.version, reason=command.reason), reply
            )
        elif payment.status is PaymentStatus.REFUNDED:
            await reply.publish(uow, outcome_of(payment))
        else:
            await reply.publish(
                uow, RefundNotNeeded(order_id=command.order_id, reason=f"payment {payment.status}")
            )

    return consumer
