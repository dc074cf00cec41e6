"""The public fault harness on its own: the broker proxy is an outage from the
client's side (against the real RabbitMQ and NATS, which keep running), delivery
faults reach the handler as promised, a held transaction holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from tidings.brokers.base import Broker, Delivery, OutgoingMessage
from tidings.brokers.factory import broker_from_url
from tidings.brokers.memory import MemoryBroker
from tidings.brokers.topology import remove_namespace
from tidings.errors import BrokerError
from tidings.testing.brokers import BROKER_URLS
from tidings.testing.faults import BrokerProxy, DeliveryFaults, FaultyBroker, open_transaction

TIMEOUT = 60.0


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    interval = 0.05
    while not await condition():
        assert time.monotonic() < deadline, f"waited {TIMEOUT:.0f}s for {what}"
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)


async def pings(broker: Broker) -> bool:
    try:
        await asyncio.wait_for(broker.ping(), 5.0)
    except (BrokerError, TimeoutError, OSError):
        return False
    return True


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_a_cut_proxy_is_a_broker_outage_and_healing_ends_it(kind: str) -> None:
    namespace = f"tidings_fh_{int(time.time() * 1000) % 10**9}"
    async with BrokerProxy(BROKER_URLS[kind]) as proxy:
        assert proxy.url != BROKER_URLS[kind]
        assert str(proxy.port) in proxy.url
        broker = broker_from_url(proxy.url, namespace=namespace)
        await broker.connect()
        try:
            assert await pings(broker)
            assert proxy.open_connections >= 1
            await proxy.cut()
            assert proxy.dropped >= 1
            assert proxy.is_cut
            await eventually(lambda: _not(pings(broker)), "the client to see the outage")
            # Refused, not hanging: a new client fails at once.
            fresh = broker_from_url(proxy.url, namespace=namespace)
            with pytest.raises((BrokerError, OSError)):
                await asyncio.wait_for(fresh.connect(), 20.0)
            await proxy.heal()
            await eventually(lambda: pings(broker), "the client to reconnect after healing")
        finally:
            await broker.close()
            # The shared broker keeps what connecting declared (the namespace's exchanges).
            await remove_namespace(BROKER_URLS[kind], namespace)


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(message_id=f"m{n}", topic="t.Happened", body=str(n).encode())


async def run_faulty(
    faults: DeliveryFaults, count: int, done: Callable[[list[str]], bool]
) -> list[str]:
    seen: list[str] = []
    # The in-process broker, volatile (a path after memory:// would make it a file).
    namespace = f"faults_{id(faults)}"
    inner = MemoryBroker("memory://", namespace=namespace)
    async with (
        MemoryBroker("memory://", namespace=namespace) as publisher,
        FaultyBroker(inner, faults) as faulty,
    ):

        async def handler(delivery: Delivery) -> None:
            seen.append(delivery.message_id)
            await delivery.ack()

        subscription = await faulty.subscribe("q", ["t.*"], handler)
        for n in range(count):
            await publisher.publish([message(n)])

        async def finished() -> bool:
            return done(seen)

        await eventually(finished, "the deliveries")
        await subscription.stop()
    return seen


async def test_duplicates_reach_the_handler_twice() -> None:
    faults = DeliveryFaults()
    faults.duplicate(lambda d: d.message_id in {"m1", "m3"})
    seen = await run_faulty(faults, 5, lambda seen: len(seen) >= 7)
    assert sorted(seen) == ["m0", "m1", "m1", "m2", "m3", "m3", "m4"]
    assert faults.duplicated == ["m1", "m3"]


async def test_a_delayed_delivery_is_overtaken_by_the_next() -> None:
    faults = DeliveryFaults()
    faults.delay(0.5, lambda d: d.message_id == "m0")
    seen = await run_faulty(faults, 3, lambda seen: len(seen) >= 3)
    assert seen[-1] == "m0"
    assert sorted(seen) == ["m0", "m1", "m2"]


async def test_reordered_deliveries_arrive_newest_first() -> None:
    faults = DeliveryFaults()
    faults.reorder(window=3)
    seen = await run_faulty(faults, 6, lambda seen: len(seen) >= 6)
    assert seen == ["m2", "m1", "m0", "m5", "m4", "m3"]


async def test_a_held_delivery_arrives_only_once_its_condition_holds() -> None:
    released = asyncio.Event()
    faults = DeliveryFaults()

    async def deadline_passed() -> bool:
        return released.is_set()

    faults.hold(lambda d: d.message_id == "m0", until=deadline_passed)

    def after_release(seen: list[str]) -> bool:
        if len(seen) == 2 and not released.is_set():
            assert "m0" not in seen  # still held while the deadline has not passed
            released.set()
        return len(seen) >= 3

    seen = await run_faulty(faults, 3, after_release)
    assert seen == ["m1", "m2", "m0"]


@pytest.mark.postgres
async def test_a_held_transaction_keeps_its_row_lock(make_database: Any) -> None:
    database = await make_database("postgres", service="held")
    async with database.transaction() as connection:
        await connection.execute(text("CREATE TABLE counters (id int primary key, n int)"))
        await connection.execute(text("INSERT INTO counters VALUES (1, 0)"))
    lock = text("SELECT n FROM counters WHERE id = 1 FOR UPDATE")
    async with open_transaction(database, lock), database.transaction() as other:
        await other.execute(text("SET LOCAL lock_timeout = '200ms'"))
        # The held row lock makes another writer give up waiting for it.
        with pytest.raises(Exception, match="lock"):
            await other.execute(text("UPDATE counters SET n = 1 WHERE id = 1"))
    async with database.transaction() as other:  # released with the rollback
        await other.execute(text("UPDATE counters SET n = 1 WHERE id = 1"))
