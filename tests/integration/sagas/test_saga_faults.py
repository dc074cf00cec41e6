"""The booking saga under faults, on PostgreSQL: orchestrators killed mid-saga and
mid-compensation, participants down, timeouts, duplicate and late replies, a
compensation that keeps failing, and two orchestrators sharing one database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter

import pytest
from saga_brokers import BROKER_PARAMS, open_broker
from saga_hotel_kit import (
    CARDS,
    check_invariants,
    declare_queues,
    hotel_databases,
    quick_saga,
    reopened,
    wait_final,
    wait_for,
)
from saga_memory_broker import TestBroker
from sqlalchemy import func, select

from examples.hotel.bookings.operations import get_booking, place_booking
from examples.hotel.runtime import SERVICES, HotelRuntime
from tidings.brokers.base import Broker, OutgoingMessage
from tidings.inbox import list_dead_letters
from tidings.outbox import outbox
from tidings.sagas import SagaStatus, count_by_status, get_saga
from tidings.sagas.tables import saga_steps
from tidings.storage.database import Database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

EXPECTED = {"4242": SagaStatus.COMPLETED, "flaky": SagaStatus.COMPLETED}
EXPECTED["declined"] = SagaStatus.COMPENSATED


class Running:
    """A runtime in a task that can be killed (cancelled) at any moment."""

    def __init__(self, runtime: HotelRuntime) -> None:
        self.runtime = runtime
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Running:
        self._task = asyncio.create_task(self._run())
        await self._ready.wait()
        return self

    async def _run(self) -> None:
        async with self.runtime:
            self._ready.set()
            await asyncio.Event().wait()

    async def kill(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def place(runtime: HotelRuntime, count: int, cards: tuple[str, ...] = CARDS) -> list[str]:
    return [
        await place_booking(
            runtime.engine, guest=f"g{i}", room_type="double", nights=1, card=cards[i % len(cards)]
        )
        for i in range(count)
    ]


async def steps_logged(database: Database) -> int:
    async with database.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(saga_steps))).scalar()
        )


async def close_all(databases: dict[str, Database]) -> None:
    for database in databases.values():
        await database.close()


@pytest.mark.parametrize("broker_kind", ["test", *BROKER_PARAMS[1:]])
async def test_killing_the_orchestrator_again_and_again_lets_every_saga_finish(
    make_database: object, broker_kind: str
) -> None:
    databases = await hotel_databases(make_database, "postgres")
    # Late releases keep sagas compensating long enough to be killed there.
    async with open_broker(broker_kind, delays={"rooms.ReleaseRoom": 0.2}) as broker:
        await kill_again_and_again(databases, broker)


async def kill_again_and_again(databases: dict[str, Database], broker: Broker) -> None:
    saga = quick_saga()
    running = await Running(HotelRuntime(databases, broker, saga=saga)).start()
    ids = await place(running.runtime, 12)
    current = databases
    statuses_at_kills: list[dict[str, int]] = []
    for kill in range(3):
        bookings = current["bookings"]
        before = await steps_logged(bookings)

        async def progressed(
            db: Database = bookings, before: int = before, kill: int = kill
        ) -> bool:
            statuses = await count_by_status(db)
            if kill == 0:
                return "compensating" in statuses
            return await steps_logged(db) >= before + 12 or set(statuses) <= {
                "completed",
                "compensated",
            }

        await wait_for(progressed)
        statuses_at_kills.append(await count_by_status(bookings))
        await running.kill()
        if current is not databases:
            await close_all(current)
        current = {name: reopened(db) for name, db in databases.items()}
        running = await Running(HotelRuntime(current, broker, saga=saga)).start()
    try:
        details = await wait_final(current["bookings"], ids)
    finally:
        await running.kill()
        await close_all(current)
    assert "compensating" in statuses_at_kills[0]
    assert any("running" in statuses for statuses in statuses_at_kills)
    await check_invariants(databases, details)
    for index, detail in enumerate(details):
        assert detail.status is EXPECTED[CARDS[index % 3]], detail.summary.id


async def test_a_step_after_the_pivot_is_retried_until_its_participant_returns(
    make_database: object,
) -> None:
    databases = await hotel_databases(make_database, "postgres")
    broker = TestBroker()
    await declare_queues(broker, databases)
    saga = quick_saga(send_confirmation=0.3)
    without_notifications = [name for name in SERVICES if name != "notifications"]
    async with HotelRuntime(databases, broker, saga=saga, services=without_notifications) as hotel:
        (booking,) = await place(hotel, 1, ("4242",))

        async def retrying() -> bool:
            detail = await get_saga(databases["bookings"], booking)
            step = detail.steps["send_confirmation"]
            return bool(step["retrying"]) and int(step["sends"]) >= 3

        # Past the pivot nothing is undone: the confirmation is sent again and again.
        await wait_for(retrying)
        detail = await get_saga(databases["bookings"], booking)
        assert detail.status is SagaStatus.RUNNING
        assert detail.past_pivot
        assert (await get_booking(databases["bookings"], booking))["status"] != "cancelled"
        assert not [r for r in detail.timeline if r.event == "compensation_sent"]
        # The participant comes back: its inbox takes the command once, the saga completes.
        async with HotelRuntime(databases, broker, services=["notifications"]):
            (final,) = await wait_final(databases["bookings"], [booking])
    assert final.status is SagaStatus.COMPLETED
    assert [r.step for r in final.timeline if r.event == "succeeded"].count(
        "send_confirmation"
    ) == 1
    await check_invariants(databases, [final])


async def test_a_participant_down_past_the_deadline_is_compensated_when_it_returns(
    make_database: object,
) -> None:
    databases = await hotel_databases(make_database, "postgres")
    broker = TestBroker()
    await declare_queues(broker, databases)
    saga = quick_saga(process_payment=0.3)
    without_payments = [name for name in SERVICES if name != "payments"]
    async with HotelRuntime(databases, broker, saga=saga, services=without_payments) as hotel:
        (booking,) = await place(hotel, 1, ("4242",))

        async def compensating_payment() -> bool:
            detail = await get_saga(databases["bookings"], booking)
            return detail.steps["process_payment"]["compensation"] == "running"

        await wait_for(compensating_payment)
        # Payments comes back: it charges (the old command), then refunds, in order.
        async with HotelRuntime(databases, broker, services=["payments"]):
            (detail,) = await wait_final(databases["bookings"], [booking])
    assert detail.status is SagaStatus.COMPENSATED
    # It gave up after its sends; the charge that came later was refunded.
    gave_up = [r for r in detail.timeline if r.event == "timed_out" and r.step == "process_payment"]
    assert gave_up[-1].detail == {"outcome": "unknown", "then": "compensate", "sends": 4}
    assert detail.steps["process_payment"]["compensation"] == "done"
    await check_invariants(databases, [detail])


async def test_a_compensation_that_keeps_failing_is_dead_lettered_then_retried(
    make_database: object,
) -> None:
    databases = await hotel_databases(make_database, "postgres")
    # ReleaseRoom arrives late, when rooms is already down.
    broker = TestBroker(delays={"rooms.ReleaseRoom": 1.0})
    await declare_queues(broker, databases)
    saga = quick_saga(compensation_deadline=0.4)
    without_rooms = [name for name in SERVICES if name != "rooms"]
    async with HotelRuntime(databases, broker, saga=saga, services=without_rooms) as hotel:
        rooms = HotelRuntime(databases, broker, services=["rooms"])
        async with rooms:
            (booking,) = await place(hotel, 1, ("declined",))

            async def releasing() -> bool:
                detail = await get_saga(databases["bookings"], booking)
                return detail.status is SagaStatus.COMPENSATING

            await wait_for(releasing)
        # rooms is down: ReleaseRoom is never answered in time, twice.

        async def stuck() -> bool:
            detail = await get_saga(databases["bookings"], booking)
            return detail.status is SagaStatus.COMPENSATION_FAILED

        await wait_for(stuck)
        assert (await get_booking(databases["bookings"], booking))["status"] == "needs_attention"
        (letter,) = await list_dead_letters(databases["bookings"])
        assert letter.consumer == "saga:hotel.booking"
        assert f"tidings saga retry {booking}" in letter.error
        assert json.loads(letter.body)["step"] == "reserve_room"

        broker.delays.clear()
        async with HotelRuntime(databases, broker, services=["rooms"]):
            await hotel.engine.retry(booking, by="test")
            (detail,) = await wait_final(databases["bookings"], [booking])
    assert detail.status is SagaStatus.COMPENSATED
    assert (await get_booking(databases["bookings"], booking))["status"] == "cancelled"
    events = [r.event for r in detail.timeline]
    assert events.count("dead_lettered") == 1
    assert "retry_requested" in events
    await check_invariants(databases, [detail])


async def test_duplicate_replies_have_no_second_effect(make_database: object) -> None:
    databases = await hotel_databases(make_database, "postgres")
    broker = TestBroker()
    async with HotelRuntime(databases, broker, saga=quick_saga()) as hotel:
        (booking,) = await place(hotel, 1, ("4242",))
        await wait_final(databases["bookings"], [booking])
        reply = next(m for m in broker.published if m.topic == "rooms.RoomReserved")
        # The same message again (a redelivery): the inbox drops it.
        await broker.publish([reply])
        # The participant answering twice (a new message id): the saga logs and ignores it.
        envelope = json.loads(reply.body)
        envelope["id"] = "00000000-0000-4000-8000-000000000001"
        copy = OutgoingMessage(envelope["id"], reply.topic, json.dumps(envelope).encode())
        await broker.publish([copy])

        async def ignored() -> bool:
            timeline = (await get_saga(databases["bookings"], booking)).timeline
            return [r.event for r in timeline].count("reply_ignored") == 2

        await wait_for(ignored)
    final = await get_saga(databases["bookings"], booking)
    ignored = [r for r in final.timeline if r.event == "reply_ignored"]
    assert {r.message_id for r in ignored} == {reply.message_id, envelope["id"]}
    assert all(r.step == "reserve_room" for r in ignored)
    assert final.status is SagaStatus.COMPLETED
    assert [r.event for r in final.timeline].count("succeeded") == 5
    await check_invariants(databases, [final])


@pytest.mark.parametrize("broker_kind", ["test", *BROKER_PARAMS[1:]])
async def test_two_orchestrators_share_one_database_and_never_advance_an_instance_twice(
    make_database: object, broker_kind: str
) -> None:
    databases = await hotel_databases(make_database, "postgres")
    async with open_broker(broker_kind) as broker:
        await two_orchestrators(databases, broker)


async def two_orchestrators(databases: dict[str, Database], broker: Broker) -> None:
    saga = quick_saga()
    second = {"bookings": reopened(databases["bookings"])}
    try:
        async with (
            HotelRuntime(databases, broker, saga=saga) as first_runtime,
            HotelRuntime(second, broker, saga=saga, services=["bookings"]) as second_runtime,
        ):
            ids = []
            for index in range(18):
                runtime = first_runtime if index % 2 else second_runtime
                ids += await place(runtime, 1, (CARDS[index % 3],))
            details = await wait_final(databases["bookings"], ids, timeout=60)
    finally:
        await close_all(second)
    await check_invariants(databases, details)
    for index, detail in enumerate(details):
        assert detail.status is EXPECTED[CARDS[index % 3]]
    async with databases["bookings"].connect() as connection:
        logged = (
            await connection.execute(
                select(func.count())
                .select_from(saga_steps)
                .where(saga_steps.c.event.in_(("command_sent", "compensation_sent")))
            )
        ).scalar()
        written = (await connection.execute(select(func.count()).select_from(outbox))).scalar()
        by_type = Counter((await connection.execute(select(outbox.c.type))).scalars().all())
    # Every command was written exactly once, by whichever orchestrator made the transition
    # (the rest of the outbox are the bookings service's own BookingConfirmed replies).
    assert written == logged + by_type["bookings.BookingConfirmed"]
