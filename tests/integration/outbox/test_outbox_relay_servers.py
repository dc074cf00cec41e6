"""The relay on PostgreSQL and MariaDB: sharing work, order, faults, wake-ups."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta

import pytest
from outbox_server_support import (
    Counted,
    assert_per_aggregate_order,
    kill_other_connections,
    registry,
)
from sqlalchemy import func, select

from tidings.brokers.base import OutgoingMessage
from tidings.messages import Envelope
from tidings.outbox import Backoff, Relay, add, add_envelopes, outbox, purge_published
from tidings.outbox import notify as outbox_notify
from tidings.outbox.notify import PostgresListener
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.databases import create_database, drop_database, unique_name
from tidings.testing.outbox import RecordingBroker, install_outbox, wait_until

FAST = Backoff(initial=0.01, maximum=0.1)


def envelopes(count: int, *, aggregates: int, start: int = 0) -> list[Envelope]:
    return [
        registry.envelope_for(
            Counted(n=n),
            source="orders",
            aggregate_type="counter",
            aggregate_id=f"c-{n % aggregates}",
            aggregate_version=n // aggregates + 1,
        )
        for n in range(start, start + count)
    ]


async def write(database: Database, batch: Sequence[Envelope]) -> None:
    async with unit_of_work(database) as uow:
        await add_envelopes(uow, batch)


async def unpublished(database: Database) -> int:
    async with database.connect() as connection:
        statement = select(func.count()).where(outbox.c.published_at.is_(None))
        return int((await connection.execute(statement)).scalar_one())


async def test_publishes_committed_rows_only(server_outbox_db: Database) -> None:
    database = server_outbox_db

    async def add_then_roll_back() -> None:
        async with unit_of_work(database) as uow:
            await add(uow, registry, Counted(n=0), aggregate_type="k", aggregate_id="x")
            raise LookupError("business rule failed")

    with pytest.raises(LookupError):
        await add_then_roll_back()
    async with unit_of_work(database) as uow:
        kept = await add(uow, registry, Counted(n=1), aggregate_type="k", aggregate_id="x")
    broker = RecordingBroker()
    relay = Relay(database, broker)
    assert await relay.run_once() == 1
    assert await relay.run_once() == 0
    assert broker.ids == [kept.id]
    assert await unpublished(database) == 0
    assert await purge_published(database, older_than=timedelta(0)) == 1


async def test_two_relays_share_the_work_in_aggregate_order(server_outbox_db: Database) -> None:
    database = server_outbox_db
    backlog = envelopes(600, aggregates=12)
    for start in range(0, len(backlog), 100):
        await write(database, backlog[start : start + 100])
    # Batches in flight together arrive in random order, so an ordering mistake shows.
    broker = RecordingBroker(confirm_delay=0.002, arrival_jitter=0.01)
    late = envelopes(200, aggregates=12, start=600)

    async def keep_writing() -> None:
        for start in range(0, len(late), 10):
            await write(database, late[start : start + 10])
            await asyncio.sleep(random.uniform(0, 0.005))

    first = Relay(database, broker, batch_size=25, window=2, name="first", poll_interval=0.05)
    second = Relay(database, broker, batch_size=25, window=2, name="second", poll_interval=0.05)
    async with first, second:
        await keep_writing()
        await wait_until(
            lambda: len(set(broker.ids)) == 800, timeout=30, message="every row published"
        )
    assert set(broker.ids) == {envelope.id for envelope in backlog + late}
    assert len(broker.ids) == 800, "no duplicates in normal operation"
    assert first.published > 0
    assert second.published > 0
    assert first.published + second.published == 800
    assert_per_aggregate_order(broker.published)
    assert await unpublished(database) == 0


async def test_killed_between_confirm_and_mark_publishes_again(
    server_outbox_db: Database,
) -> None:
    database = server_outbox_db
    written = envelopes(30, aggregates=3)
    await write(database, written)
    kills = 0

    async def kill_relay_connection(_batch: Sequence[OutgoingMessage]) -> None:
        nonlocal kills
        if kills == 0:
            kills += await kill_other_connections(database)

    broker = RecordingBroker(after_confirm=kill_relay_connection)
    async with Relay(database, broker, batch_size=10, window=1, backoff=FAST) as relay:
        await wait_until(
            lambda: set(broker.ids) == {e.id for e in written}, message="all published"
        )
        await wait_until(lambda: relay.published == 30, message="all marked")
    assert kills >= 1
    assert relay.failures >= 1
    assert len(broker.ids) > len(set(broker.ids)), "the unmarked batch went out twice"
    assert_per_aggregate_order(broker.published)
    assert await unpublished(database) == 0


async def test_relay_waits_for_a_database_that_is_down(server_outbox_db: Database) -> None:
    backend = server_outbox_db.backend
    name = unique_name()
    url = server_outbox_db.url.set(database=name)
    async with Database("late", url) as database:
        broker = RecordingBroker()
        try:
            async with Relay(database, broker, backoff=FAST, poll_interval=0.05) as relay:
                await wait_until(lambda: relay.failures >= 2, message="failing while down")
                await create_database(backend, name)
                await install_outbox(database)
                written = envelopes(5, aggregates=1)
                await write(database, written)
                await wait_until(lambda: broker.ids == [e.id for e in written])
        finally:
            await database.close()
            await drop_database(backend, name)


@pytest.mark.postgres
async def test_notify_wakes_a_listener(make_database) -> None:  # type: ignore[no-untyped-def]
    database: Database = await make_database("postgres", service="orders")
    await install_outbox(database)
    woken = asyncio.Event()
    async with PostgresListener(database, woken.set) as listener:
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        woken.clear()
        async with unit_of_work(database) as uow:
            await add(uow, registry, Counted(n=1), aggregate_type="k", aggregate_id="x")
        await asyncio.wait_for(woken.wait(), timeout=5)


@pytest.mark.postgres
async def test_idle_relay_is_woken_by_notify_not_polling(
    make_database,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database: Database = await make_database("postgres", service="orders")
    await install_outbox(database)
    # Another process's commit: no in-process signal, only the NOTIFY.
    monkeypatch.setattr(outbox_notify, "wake_local", lambda _database: None)
    broker = RecordingBroker()
    relay = Relay(database, broker, poll_interval=60, linger=0)
    listener_started = asyncio.Event()
    original_start = PostgresListener.start

    def start(self: PostgresListener) -> None:
        original_start(self)
        asyncio.get_running_loop().create_task(_signal(self, listener_started))

    monkeypatch.setattr(PostgresListener, "start", start)
    async with relay:
        await asyncio.wait_for(listener_started.wait(), timeout=10)
        async with unit_of_work(database) as uow:
            sent = await add(uow, registry, Counted(n=1), aggregate_type="k", aggregate_id="x")
        await wait_until(lambda: broker.ids == [sent.id], timeout=5, message="woken by NOTIFY")


async def _signal(listener: PostgresListener, started: asyncio.Event) -> None:
    await listener.connected.wait()
    started.set()


async def test_backend_flags_choose_the_claim(server_outbox_db: Database) -> None:
    relay = Relay(server_outbox_db, RecordingBroker(), window=3)
    assert relay.window == 3
    listens = server_outbox_db.backend is Backend.POSTGRESQL
    assert server_outbox_db.capabilities.listen_notify is listens
