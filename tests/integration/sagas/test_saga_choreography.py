"""Choreography helpers: a reaction keeps the flow's correlation id, and the flow
can be read back across services' databases."""

from __future__ import annotations

from saga_kit import migrate

from examples.hotel.contracts import RoomReleased, RoomReserved, registry
from tidings.inbox import Consumer, Outcome
from tidings.messages import Envelope, encode
from tidings.outbox import add
from tidings.sagas.choreography import correlated_flow, follow_up
from tidings.storage.uow import UnitOfWork, unit_of_work


async def test_a_reaction_keeps_the_flow_and_the_flow_reads_back_across_services(
    make_database: object,
) -> None:
    rooms = await make_database("sqlite", service="rooms")  # type: ignore[operator]
    billing = await make_database("sqlite", service="billing")  # type: ignore[operator]
    await migrate(rooms)
    await migrate(billing)
    async with unit_of_work(rooms) as uow:
        first = await add(
            uow,
            registry,
            RoomReserved(booking_id="b-1", room_number=4),
            aggregate_type="booking",
            aggregate_id="b-1",
        )
    reactions: list[Envelope] = []

    async def on_reserved(uow: UnitOfWork, event: RoomReserved, envelope: Envelope) -> None:
        reactions.append(
            await follow_up(
                uow,
                registry,
                RoomReleased(booking_id=event.booking_id),
                caused_by=envelope,
                aggregate_type="booking",
                aggregate_id=event.booking_id,
            )
        )

    consumer = Consumer("reactions", billing, registry)
    consumer.on(RoomReserved, on_reserved)
    assert await consumer.process(encode(first)) is Outcome.APPLIED
    (reaction,) = reactions
    assert reaction.correlationid == first.correlationid
    assert reaction.causationid == first.id

    flow = await correlated_flow([rooms, billing], first.correlationid)
    assert [(entry.service, entry.action, entry.message_type) for entry in flow] == [
        ("rooms", "sent", "rooms.RoomReserved"),
        ("billing", "applied", "rooms.RoomReserved"),
        ("billing", "sent", "rooms.RoomReleased"),
    ]
    assert flow[2].causation_id == first.id
    assert await correlated_flow([rooms, billing], "another-flow") == []
