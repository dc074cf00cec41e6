"""Outbox -> relay -> the in-process broker -> a consumer, on SQLite (the embedded default)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from outbox_support import Counted, registry
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.brokers.base import Delivery
from tidings.brokers.factory import broker_from_url
from tidings.messages import decode
from tidings.outbox import Relay, add
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import wait_until


class Consumer:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.versions: dict[str, list[int]] = defaultdict(list)

    async def handle(self, delivery: Delivery) -> None:
        envelope = decode(delivery.body)
        message = registry.load(envelope)
        assert isinstance(message, Counted)
        assert delivery.message_id == envelope.id
        self.received.append(envelope.id)
        assert envelope.aggregateid is not None
        assert envelope.aggregateversion is not None
        self.versions[envelope.aggregateid].append(envelope.aggregateversion)
        await delivery.ack()


async def write(database: Database, count: int, aggregates: int) -> list[str]:
    ids = []
    for n in range(count):
        async with unit_of_work(database) as uow:
            envelope = await add(
                uow,
                registry,
                Counted(n=n),
                aggregate_type="counter",
                aggregate_id=f"c-{n % aggregates}",
                aggregate_version=n // aggregates + 1,
            )
            ids.append(envelope.id)
    return ids


async def test_events_reach_a_consumer_in_aggregate_order(outbox_db: Database) -> None:
    consumer = Consumer()
    async with broker_from_url("memory://", namespace=f"t{uuid.uuid4().hex[:8]}") as broker:
        await broker.subscribe("counters", ["test.#"], consumer.handle)
        async with Relay(outbox_db, broker, batch_size=10):
            ids = await write(outbox_db, 40, aggregates=4)
            await wait_until(lambda: len(consumer.received) >= 40, message="all delivered")
    assert sorted(consumer.received) == sorted(ids)
    for aggregate, versions in consumer.versions.items():
        assert versions == sorted(versions), aggregate


class CrashOnceAfterConfirm(Relay):
    crashed = False

    async def _mark_published(self, connection: AsyncConnection, seqs: list[int]) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("relay killed after the broker confirmed")
        await super()._mark_published(connection, seqs)


async def test_crash_after_confirm_delivers_twice_never_loses(outbox_db: Database) -> None:
    consumer = Consumer()
    ids = await write(outbox_db, 5, aggregates=1)
    async with broker_from_url("memory://", namespace=f"t{uuid.uuid4().hex[:8]}") as broker:
        await broker.subscribe("counters", ["test.#"], consumer.handle)
        relay = CrashOnceAfterConfirm(outbox_db, broker)
        async with relay:
            await wait_until(lambda: relay.published == 5, message="marked after the retry")
            await wait_until(lambda: len(consumer.received) == 10, message="redelivered")
    assert relay.failures == 1
    assert sorted(consumer.received) == sorted(ids + ids), "each event twice, none lost"
