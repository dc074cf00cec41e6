"""Outbox -> relay -> RabbitMQ / NATS JetStream -> a consumer, on PostgreSQL and MariaDB.

Each test checks the recorded history: every committed event id reaches the
consumer (at least once), events of one aggregate arrive in order.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import pytest
from outbox_server_support import Counted, kill_other_connections, registry

from tidings.brokers.base import Broker, Delivery, OutgoingMessage
from tidings.brokers.factory import broker_from_url
from tidings.messages import Envelope, decode
from tidings.outbox import Backoff, Relay, add_envelopes
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import install_outbox, wait_until

AMQP_URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222")
QUEUE = "counters"


def combination(backend: str, kind: str) -> object:
    marks = [getattr(pytest.mark, backend), getattr(pytest.mark, kind)]
    return pytest.param((backend, kind), id=f"{backend}-{kind}", marks=marks)


COMBINATIONS = [
    combination(backend, kind)
    for backend in ("postgres", "mariadb")
    for kind in ("rabbitmq", "nats")
]


def open_broker(kind: str, namespace: str) -> Broker:
    return broker_from_url(AMQP_URL if kind == "rabbitmq" else NATS_URL, namespace=namespace)


@pytest.fixture
async def setup(
    request: pytest.FixtureRequest,
    make_database,  # type: ignore[no-untyped-def]
) -> AsyncIterator[tuple[Database, Broker, str]]:
    backend, kind = request.param
    database: Database = await make_database(backend, service="orders")
    await install_outbox(database)
    namespace = f"tidings_t_{uuid.uuid4().hex[:10]}"
    broker = open_broker(kind, namespace)
    try:
        async with broker:
            yield database, broker, kind
    finally:
        async with open_broker(kind, namespace) as admin:
            delete = getattr(admin, "delete_namespace", None)
            if delete is not None:
                await (delete([QUEUE]) if kind == "rabbitmq" else delete())


class Consumer:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.versions: dict[str, list[int]] = defaultdict(list)

    async def __call__(self, delivery: Delivery) -> None:
        envelope = decode(delivery.body)
        assert isinstance(registry.load(envelope), Counted)
        if envelope.id not in self.ids:
            assert envelope.aggregateid is not None
            assert envelope.aggregateversion is not None
            self.versions[envelope.aggregateid].append(envelope.aggregateversion)
        self.ids.append(envelope.id)
        await delivery.ack()

    def assert_aggregate_order(self) -> None:
        for aggregate, versions in self.versions.items():
            assert versions == sorted(versions), f"{aggregate} out of order: {versions}"


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


@pytest.mark.parametrize("setup", COMBINATIONS, indirect=True)
async def test_two_relays_deliver_every_event_in_aggregate_order(
    setup: tuple[Database, Broker, str],
) -> None:
    database, broker, _kind = setup
    consumer = Consumer()
    subscription = await broker.subscribe(QUEUE, ["test.#"], consumer)
    written = envelopes(300, aggregates=10)
    first = Relay(database, broker, batch_size=20, window=2, poll_interval=0.05)
    second = Relay(database, broker, batch_size=20, window=2, poll_interval=0.05)
    async with first, second:
        for start in range(0, len(written), 30):
            await write(database, written[start : start + 30])
            await asyncio.sleep(0)
        await wait_until(
            lambda: set(consumer.ids) >= {e.id for e in written},
            timeout=30,
            message="every committed event consumed",
        )
    await subscription.stop()
    assert first.published + second.published == 300, "no row published twice"
    consumer.assert_aggregate_order()


@pytest.mark.parametrize("setup", COMBINATIONS, indirect=True)
async def test_relay_killed_between_confirm_and_mark_loses_nothing(
    setup: tuple[Database, Broker, str],
) -> None:
    database, broker, kind = setup
    consumer = Consumer()
    subscription = await broker.subscribe(QUEUE, ["test.#"], consumer)
    written = envelopes(40, aggregates=4)
    await write(database, written)
    kills = 0

    class KilledAfterConfirm(Broker):
        """The real broker, and then the relay's database connection dies."""

        url = broker.url

        async def connect(self) -> None: ...

        async def close(self) -> None: ...

        async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
            await broker.declare_queue(queue, topics)

        async def subscribe(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise NotImplementedError

        async def ping(self) -> None:
            await broker.ping()

        async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
            nonlocal kills
            await broker.publish(messages)
            if kills == 0:
                kills += await kill_other_connections(database)

    fast = Backoff(initial=0.01, maximum=0.1)
    async with Relay(
        database, KilledAfterConfirm(), batch_size=10, window=1, backoff=fast
    ) as relay:
        await wait_until(lambda: relay.published == 40, timeout=30, message="all marked")
        await wait_until(
            lambda: set(consumer.ids) == {e.id for e in written},
            timeout=30,
            message="every committed event consumed",
        )
    await subscription.stop()
    assert kills >= 1
    assert relay.failures >= 1
    # The first batch went out twice: RabbitMQ delivers the copies (the inbox
    # dedupes them); JetStream drops them (same message id within its window).
    if kind == "rabbitmq":
        assert len(consumer.ids) > 40
    else:
        assert sorted(consumer.ids) == sorted(e.id for e in written)
