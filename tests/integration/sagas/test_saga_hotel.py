"""The hotel example end to end: four services, their outboxes and inboxes, a broker."""

from __future__ import annotations

import asyncio
import time

import pytest
from saga_brokers import open_broker
from saga_hotel_kit import hotel_databases as databases_for_hotel
from sqlalchemy import select

from examples.hotel.bookings.operations import get_booking, place_booking
from examples.hotel.payments.handlers import attempts_of
from examples.hotel.rooms.tables import reservations
from examples.hotel.runtime import HotelRuntime
from tidings.sagas import FINAL_STATUSES, SagaDetail, SagaStatus, get_saga
from tidings.sagas.choreography import correlated_flow
from tidings.storage.database import Database

pytestmark = pytest.mark.timeout(90)


CASES = [
    pytest.param("sqlite", "memory", id="sqlite-memory"),
    pytest.param("postgres", "memory", id="postgres-memory", marks=pytest.mark.postgres),
    pytest.param(
        "postgres",
        "rabbitmq",
        id="postgres-rabbitmq",
        marks=[pytest.mark.postgres, pytest.mark.rabbitmq],
    ),
    pytest.param(
        "postgres", "nats", id="postgres-nats", marks=[pytest.mark.postgres, pytest.mark.nats]
    ),
]


async def wait_final(database: Database, ids: list[str], timeout: float = 30.0) -> list[SagaDetail]:
    deadline = time.monotonic() + timeout
    while True:
        details = [await get_saga(database, saga_id) for saga_id in ids]
        if all(detail.status in FINAL_STATUSES for detail in details):
            return details
        assert time.monotonic() < deadline, [detail.status for detail in details]
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("backend", "broker_kind"), CASES)
async def test_bookings_succeed_retry_compensate_and_get_refused(
    backend: str, broker_kind: str, make_database: object
) -> None:
    hotel_databases = await databases_for_hotel(make_database, backend)
    async with (
        open_broker(broker_kind) as broker,
        HotelRuntime(hotel_databases, broker, relay_poll_interval=0.05) as hotel,
    ):
        ids = [
            await place_booking(hotel.engine, guest=guest, room_type=kind, nights=1, card=card)
            for guest, kind, card in (
                ("Ada", "double", "4242"),
                ("Grace", "suite", "flaky"),
                ("Alan", "double", "declined"),
                ("Edsger", "penthouse", "4242"),
            )
        ]
        ok, flaky, declined, refused = await wait_final(hotel_databases["bookings"], ids)
    bookings = hotel_databases["bookings"]
    assert ok.status is SagaStatus.COMPLETED
    assert (await get_booking(bookings, ids[0]))["status"] == "confirmed"
    assert flaky.status is SagaStatus.COMPLETED
    assert await attempts_of(hotel_databases["payments"], ids[1]) == 3
    assert [r.event for r in flaky.timeline].count("transient_failure") == 2
    assert declined.status is SagaStatus.COMPENSATED
    assert (await get_booking(bookings, ids[2]))["status"] == "cancelled"
    async with hotel_databases["rooms"].connect() as connection:
        room = (
            await connection.execute(
                select(reservations.c.status).where(reservations.c.booking_id == ids[2])
            )
        ).scalar_one()
    assert room == "released"
    assert refused.status is SagaStatus.FAILED
    assert (await get_booking(bookings, ids[3]))["status"] == "rejected"

    flow = await correlated_flow(hotel_databases.values(), ids[2])
    services = {entry.service for entry in flow}
    assert services == {"bookings", "rooms", "payments"}
    sent = [entry.message_type for entry in flow if entry.action == "sent"]
    assert "rooms.ReleaseRoom" in sent
    assert "payments.PaymentDeclined" in sent
    applied = [entry for entry in flow if entry.action == "applied"]
    assert {entry.service for entry in applied} == {"bookings", "rooms", "payments"}
