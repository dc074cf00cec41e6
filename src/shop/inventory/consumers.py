"""Inventory's consumer of the order saga's commands, behind the inbox.

The inbox row, the appended events and the reply commit in one unit of work. A
command delivered again under a new id (the saga retried) is answered with the
decision already recorded in the order's reservation stream.
"""

from __future__ import annotations

from shop.common.messaging import ReplyPublisher
from shop.contracts.base import Line, registry
from shop.contracts.inventory import (
    ReleaseStock,
    ReserveStock,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from shop.inventory.domain import Reservation
from shop.inventory.service import InventoryService
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.uow import UnitOfWork


def commands_consumer(service: InventoryService) -> Consumer:
    consumer = Consumer("commands", service.database, registry)

    @consumer.handles(ReserveStock)
    async def reserve(uow: UnitOfWork, command: ReserveStock, envelope: Envelope) -> None:
        reply = ReplyPublisher(envelope)
        decided = await service.reserve_in(uow, command.order_id, command.lines, reply)
        if decided is not None:
            await reply.publish(uow, _answer(decided))

    @consumer.handles(ReleaseStock)
    async def release(uow: UnitOfWork, command: ReleaseStock, envelope: Envelope) -> None:
        reply = ReplyPublisher(envelope)
        if not await service.release_in(uow, command.order_id, reply):
            # Nothing was held (never reserved, rejected, or released before): the
            # saga still needs its answer.
            await reply.publish(uow, StockReleased(order_id=command.order_id))

    return consumer


def _answer(reservation: Reservation) -> StockReserved | StockReservationRejected | StockReleased:
    if reservation.status == "placed":
        lines = tuple(
            Line(product_id=product_id, quantity=quantity)
            for product_id, quantity in sorted(reservation.quantities.items())
        )
        return StockReserved(order_id=reservation.order_id, lines=lines)
    if reservation.status == "rejected":
        return StockReservationRejected(
            order_id=reservation.order_id, reason=reservation.reason or "rejected"
        )
    return StockReleased(order_id=reservation.order_id)
