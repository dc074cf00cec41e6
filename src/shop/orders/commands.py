"""Orders' own participant role: the saga's ConfirmOrder command, behind the inbox.

The reply (OrderConfirmed, also the public event analytics counts) goes out
through orders' outbox in the same transaction as the status change.
"""

from __future__ import annotations

from shop.common.errors import Conflict
from shop.common.messaging import ReplyPublisher
from shop.contracts.base import registry
from shop.contracts.orders import ConfirmOrder, OrderConfirmationRefused
from shop.orders.schemas import OrderStatus
from shop.orders.service import finish_in, outcome_of, read_in
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


def commands_consumer(database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)

    @consumer.handles(ConfirmOrder)
    async def confirm(uow: UnitOfWork, command: ConfirmOrder, envelope: Envelope) -> None:
        reply = ReplyPublisher(envelope)
        order = await read_in(uow, command.order_id)
        if order.status is OrderStatus.CONFIRMED:
            # Asked again (the saga retried): the same answer, no second change.
            await reply.publish(uow, outcome_of(order, OrderStatus.CONFIRMED, None))
            return
        try:
            await finish_in(
                uow, command.order_id, OrderStatus.CONFIRMED, None, reply, actor="order-saga"
            )
        except Conflict as refused:
            await reply.publish(
                uow, OrderConfirmationRefused(order_id=command.order_id, reason=str(refused))
            )

    return consumer
