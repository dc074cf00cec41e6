"""Placing and reading bookings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select

from examples.hotel.bookings.tables import bookings
from examples.hotel.saga import booking_saga
from tidings.errors import NotFound
from tidings.sagas import SagaEngine
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work

PRICE_PER_NIGHT_CENTS = {"single": 8_000, "double": 12_000, "suite": 30_000}


async def place_booking(
    engine: SagaEngine, *, guest: str, room_type: str, nights: int, card: str
) -> str:
    """Store the booking and start its saga in one transaction; return the booking id.

    The booking id is also the saga id and the flow's correlation id.
    """
    booking_id = str(uuid.uuid4())
    amount = PRICE_PER_NIGHT_CENTS.get(room_type, 10_000) * nights
    now = utcnow()
    async with unit_of_work(engine.database) as uow:
        await uow.execute(
            insert(bookings).values(
                id=booking_id,
                guest=guest,
                room_type=room_type,
                nights=nights,
                amount_cents=amount,
                card=card,
                status="pending",
                created_at=now,
                updated_at=now,
            )
        )
        await engine.start(
            uow,
            booking_saga.name,
            {
                "booking_id": booking_id,
                "guest": guest,
                "room_type": room_type,
                "nights": nights,
                "amount_cents": amount,
                "card": card,
            },
            saga_id=booking_id,
            correlation_id=booking_id,
        )
    return booking_id


async def get_booking(database: Database, booking_id: str) -> dict[str, Any]:
    async with database.connect() as connection:
        row = (
            await connection.execute(select(bookings).where(bookings.c.id == booking_id))
        ).one_or_none()
    if row is None:
        raise NotFound(f"no booking {booking_id}")
    return dict(row._mapping)
