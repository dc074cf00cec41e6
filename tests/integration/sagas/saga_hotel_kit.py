"""Helpers for the hotel fault tests: databases per service, waiting, and the invariants."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace

from sqlalchemy import select

from examples.hotel.payments.tables import payments
from examples.hotel.rooms.tables import reservations
from examples.hotel.runtime import SERVICES, HotelRuntime
from examples.hotel.saga import booking_saga
from examples.hotel.system import system
from tidings.brokers.base import Broker
from tidings.migrations import runner
from tidings.sagas import FINAL_STATUSES, SagaDefinition, SagaDetail, SagaStatus, get_saga
from tidings.storage.database import Database

CARDS = ("4242", "flaky", "declined")


async def hotel_databases(make_database: object, backend: str) -> dict[str, Database]:
    databases = {
        name: await make_database(backend, service=name)  # type: ignore[operator]
        for name in SERVICES
    }
    for name, database in databases.items():
        await runner.upgrade(database, system.service(name))
    return databases


def reopened(database: Database) -> Database:
    """A second connection pool on the same database: another process's view."""
    return Database(database.service, database.url)


def quick_saga(compensation_deadline: float | None = None, **deadlines: float) -> SagaDefinition:
    """The booking saga with short retry backoffs and the given per-step deadlines."""
    steps = []
    for step in booking_saga.all_steps:
        changed = replace(step, deadline=deadlines.get(step.name, step.deadline))
        if compensation_deadline is not None and step.compensation is not None:
            undo = replace(
                step.compensation,
                deadline=compensation_deadline,
                retry=replace(step.compensation.retry, max_attempts=2, backoff=0.02),
            )
            changed = replace(changed, compensation=undo)
        if step.retry.max_attempts > 1:
            changed = replace(changed, retry=replace(step.retry, backoff=0.02))
        steps.append(changed)
    return replace(booking_saga, steps=tuple(steps))


async def wait_final(database: Database, ids: list[str], timeout: float = 40.0) -> list[SagaDetail]:
    deadline = time.monotonic() + timeout
    while True:
        details = [await get_saga(database, saga_id) for saga_id in ids]
        if all(detail.status in FINAL_STATUSES for detail in details):
            return details
        assert time.monotonic() < deadline, Counter(d.status.value for d in details)
        await asyncio.sleep(0.05)


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def declare_queues(broker: Broker, databases: dict[str, Database]) -> None:
    """Every service's queue exists, as it does once a service ran: commands for a
    service that is down wait in its queue."""
    for consumer in HotelRuntime(databases, broker).consumers():
        await broker.declare_queue(consumer.queue, consumer.topics)


async def check_invariants(databases: dict[str, Database], details: list[SagaDetail]) -> None:
    """Each saga ended in one final status; no step and no compensation took effect twice;
    the participants' rows agree with the saga's outcome."""
    async with databases["rooms"].connect() as connection:
        rooms = dict(
            (await connection.execute(select(reservations.c.booking_id, reservations.c.status)))
            .tuples()
            .all()
        )
    async with databases["payments"].connect() as connection:
        charged = dict(
            (await connection.execute(select(payments.c.booking_id, payments.c.status)))
            .tuples()
            .all()
        )
    for detail in details:
        assert detail.status in FINAL_STATUSES
        # A missed deadline re-sends the same attempt (timed_out, then resend) any number of
        # times; giving up on it happens once.
        events = Counter(
            (r.event, r.step, r.kind, r.attempt)
            for r in detail.timeline
            if not (r.event == "timed_out" and (r.detail or {}).get("then") == "resend")
        )
        for (event, step, kind, attempt), count in events.items():
            if event in ("succeeded", "compensated", "failed", "timed_out"):
                assert count == 1, f"{detail.summary.id}: {event} {step} {kind} {attempt} x{count}"
        undone = Counter(r.step for r in detail.timeline if r.event == "compensated" and r.step)
        assert all(count == 1 for count in undone.values()), undone
        final_events = {status.value for status in FINAL_STATUSES}
        finals = [r for r in detail.timeline if r.step is None and r.event in final_events]
        assert len(finals) == 1, detail.timeline
        saga_id = detail.summary.id
        if detail.status is SagaStatus.COMPLETED:
            assert rooms.get(saga_id) == "reserved"
            assert charged.get(saga_id) == "charged"
        elif detail.status is SagaStatus.COMPENSATED:
            assert rooms.get(saga_id) in (None, "released")
            assert charged.get(saga_id) in (None, "refunded")
