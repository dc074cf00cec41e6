"""The rooms service's command handlers; each answers through its outbox.

ReserveRoom and ReleaseRoom are idempotent per booking: a repeated command gets
the same answer, and a release that overtook its reservation leaves a tombstone.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, update

from examples.hotel.contracts import (
    AvailabilityConfirmed,
    NoAvailability,
    ReleaseRoom,
    ReserveRoom,
    RoomReleased,
    RoomReserved,
    RoomUnavailable,
    ValidateAvailability,
    registry,
)
from examples.hotel.rooms.tables import reservations, room_types
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.sagas import send_reply
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork


async def _taken_numbers(uow: UnitOfWork, room_type: str) -> set[int]:
    rows = await uow.execute(
        select(reservations.c.room_number).where(
            reservations.c.room_type == room_type, reservations.c.status == "reserved"
        )
    )
    return {int(number) for (number,) in rows.all() if number is not None}


async def _total(uow: UnitOfWork, room_type: str, *, lock: bool = False) -> int:
    statement = select(room_types.c.total).where(room_types.c.room_type == room_type)
    if lock and uow.database.capabilities.row_locks:
        # Reservations of one room type queue here, so the last room goes to one booking.
        statement = statement.with_for_update()
    total = (await uow.execute(statement)).scalar_one_or_none()
    return int(total or 0)


async def validate(uow: UnitOfWork, command: ValidateAvailability, envelope: Envelope) -> None:
    free = await _total(uow, command.room_type) - len(await _taken_numbers(uow, command.room_type))
    reply: AvailabilityConfirmed | NoAvailability
    if free > 0:
        reply = AvailabilityConfirmed(booking_id=command.booking_id, free_rooms=free)
    else:
        reply = NoAvailability(booking_id=command.booking_id, room_type=command.room_type)
    await send_reply(uow, registry, reply, to=envelope)


async def reserve(uow: UnitOfWork, command: ReserveRoom, envelope: Envelope) -> None:
    total = await _total(uow, command.room_type, lock=True)
    existing = (
        await uow.execute(
            select(reservations).where(reservations.c.booking_id == command.booking_id)
        )
    ).one_or_none()
    reply: RoomReserved | RoomUnavailable
    if existing is not None:
        if existing.status == "reserved":
            reply = RoomReserved(booking_id=command.booking_id, room_number=existing.room_number)
        else:
            reply = RoomUnavailable(booking_id=command.booking_id)
        await send_reply(uow, registry, reply, to=envelope)
        return
    taken = await _taken_numbers(uow, command.room_type)
    free = [number for number in range(1, total + 1) if number not in taken]
    if not free:
        await send_reply(uow, registry, RoomUnavailable(booking_id=command.booking_id), to=envelope)
        return
    await uow.execute(
        insert(reservations).values(
            booking_id=command.booking_id,
            room_type=command.room_type,
            room_number=free[0],
            status="reserved",
            updated_at=utcnow(),
        )
    )
    reply = RoomReserved(booking_id=command.booking_id, room_number=free[0])
    await send_reply(uow, registry, reply, to=envelope)


async def release(uow: UnitOfWork, command: ReleaseRoom, envelope: Envelope) -> None:
    changed = await uow.execute(
        update(reservations)
        .where(reservations.c.booking_id == command.booking_id)
        .values(status="released", updated_at=utcnow())
    )
    if getattr(changed, "rowcount", 0) == 0:
        await uow.execute(
            insert(reservations).values(
                booking_id=command.booking_id,
                room_type="?",
                room_number=None,
                status="released",
                updated_at=utcnow(),
            )
        )
    await send_reply(uow, registry, RoomReleased(booking_id=command.booking_id), to=envelope)


async def free_rooms(database: Database) -> dict[str, int]:
    async with database.connect() as connection:
        totals = dict((await connection.execute(select(room_types))).tuples().all())
        taken = dict(
            (
                await connection.execute(
                    select(reservations.c.room_type, func.count())
                    .where(reservations.c.status == "reserved")
                    .group_by(reservations.c.room_type)
                )
            )
            .tuples()
            .all()
        )
    return {kind: int(total) - int(taken.get(kind, 0)) for kind, total in totals.items()}


def commands_consumer(database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)
    consumer.on(ValidateAvailability, validate)
    consumer.on(ReserveRoom, reserve)
    consumer.on(ReleaseRoom, release)
    return consumer
