"""The bookings service reacting to its saga: status tracking and its own step."""

from __future__ import annotations

from sqlalchemy import update

from examples.hotel.bookings.tables import bookings
from examples.hotel.contracts import BookingConfirmed, ConfirmBooking, registry
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.sagas import SagaStatus, Transition
from tidings.sagas.messaging import send_reply
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

BOOKING_STATUS = {
    SagaStatus.RUNNING: "pending",
    SagaStatus.COMPLETED: "confirmed",
    SagaStatus.COMPENSATING: "cancelling",
    SagaStatus.COMPENSATED: "cancelled",
    SagaStatus.FAILED: "rejected",
    SagaStatus.COMPENSATION_FAILED: "needs_attention",
}


async def track_status(uow: UnitOfWork, moved: Transition) -> None:
    """Keep the booking's status in step with its saga, in the saga's transaction."""
    if not moved.status_changed:
        return
    await uow.execute(
        update(bookings)
        .where(bookings.c.id == moved.state.data["booking_id"])
        .values(status=BOOKING_STATUS[moved.state.status], updated_at=utcnow())
    )


async def confirm_booking(uow: UnitOfWork, command: ConfirmBooking, envelope: Envelope) -> None:
    await uow.execute(
        update(bookings)
        .where(bookings.c.id == command.booking_id, bookings.c.confirmed_at.is_(None))
        .values(confirmed_at=utcnow(), updated_at=utcnow())
    )
    await send_reply(uow, registry, BookingConfirmed(booking_id=command.booking_id), to=envelope)


def commands_consumer(database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)
    consumer.on(ConfirmBooking, confirm_booking)
    return consumer
