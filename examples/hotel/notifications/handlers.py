"""The notifications service: send a booking's confirmation once, however often asked."""

from __future__ import annotations

from sqlalchemy import insert, select

from examples.hotel.contracts import ConfirmationSent, SendConfirmation, registry
from examples.hotel.notifications.tables import sent_notifications
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.sagas import send_reply
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork


async def send_confirmation(uow: UnitOfWork, command: SendConfirmation, envelope: Envelope) -> None:
    already = (
        await uow.execute(
            select(sent_notifications.c.booking_id).where(
                sent_notifications.c.booking_id == command.booking_id
            )
        )
    ).scalar_one_or_none()
    if already is None:
        await uow.execute(
            insert(sent_notifications).values(
                booking_id=command.booking_id,
                guest=command.guest,
                room_number=command.room_number,
                sent_at=utcnow(),
            )
        )
    await send_reply(uow, registry, ConfirmationSent(booking_id=command.booking_id), to=envelope)


def commands_consumer(database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)
    consumer.on(SendConfirmation, send_confirmation)
    return consumer
