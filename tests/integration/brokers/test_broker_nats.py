"""NATS JetStream adapter: the conformance suite plus JetStream's own guarantees."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from tidings.brokers.base import Broker, Delivery, OutgoingMessage
from tidings.brokers.nats import NatsBroker
from tidings.errors import BrokerError, ConfigurationError
from tidings.testing.brokers import (
    BrokerConformance,
    Recorder,
    TemporaryBrokers,
    eventually,
    message,
    temporary_brokers,
)

pytestmark = pytest.mark.nats

URL = os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def brokers() -> AsyncIterator[TemporaryBrokers]:
    async with temporary_brokers("nats", URL) as made:
        yield made


class TestNatsBroker(BrokerConformance):
    @pytest.fixture(autouse=True)
    def _brokers(self, brokers: TemporaryBrokers) -> None:
        self.brokers = brokers

    async def create_broker(self) -> Broker:
        return self.brokers()

    async def create_unreachable_broker(self) -> Broker:
        return NatsBroker("nats://127.0.0.1:1", connect_timeout=2)


async def test_publish_deduplicates_by_message_id(brokers: TemporaryBrokers) -> None:
    async with brokers() as broker:
        await broker.declare_queue("q", ["t"])
        first = OutgoingMessage(message_id="same-id", topic="t", body=b"1")
        await broker.publish([first])
        await broker.publish([OutgoingMessage(message_id="same-id", topic="t", body=b"2")])
        marker = message("t")
        await broker.publish([marker])
        recorder = Recorder()
        subscription = await broker.subscribe("q", ["t"], recorder)
        await recorder.wait_for(2)
        await subscription.stop()
    assert recorder.ids == ["same-id", marker.message_id]
    assert recorder.deliveries[0].body == b"1"


async def test_max_deliveries_dead_letters_a_message_that_keeps_failing(
    brokers: TemporaryBrokers,
) -> None:
    async def always_fail(_delivery: Delivery) -> None:
        raise RuntimeError("poison (expected in this test)")

    async with brokers(max_deliveries=2) as broker:
        recorder = Recorder(always_fail)
        subscription = await broker.subscribe("q", ["t"], recorder)
        await broker.publish([message("t")])
        dead: list[object] = []
        for _ in range(300):
            dead[:] = await broker.dead_letters("q")
            if dead:
                break
            await asyncio.sleep(0.02)
        await subscription.stop()
    assert [d.attempt for d in recorder.deliveries] == [1, 2]
    assert len(dead) == 1


async def test_a_held_delivery_stays_in_progress_until_its_process_is_gone(
    brokers: TemporaryBrokers,
) -> None:
    """Held past ack_wait by a live subscriber: not redelivered. Its process gone: redelivered."""
    async with brokers(ack_wait=0.5) as vanishing, brokers(ack_wait=0.5) as survivor:
        held = Recorder(_hold)
        await vanishing.subscribe("q", ["t"], held)
        sent = message("t")
        await vanishing.publish([sent])
        await held.wait_for(1)
        taker = Recorder()
        await survivor.subscribe("q", ["t"], taker)
        await asyncio.sleep(1.5)  # three ack_waits with the delivery held
        assert taker.deliveries == []
        assert len(held.deliveries) == 1
        # The process dies without a word (no NAK, no more in-progress notes).
        await _kill(vanishing)
        await taker.wait_for(1)
    assert taker.ids == [sent.message_id]
    assert taker.deliveries[0].attempt == 2


async def _hold(_delivery: Delivery) -> None:
    """Keep the delivery unsettled."""


async def _kill(broker: Broker) -> None:
    assert isinstance(broker, NatsBroker)
    for subscription in list(broker._subscriptions):
        if subscription._keepalive is not None:
            subscription._keepalive.cancel()
    client = broker._nc
    assert client is not None
    writer = client._transport._io_writer  # type: ignore[union-attr]
    client.options["allow_reconnect"] = False
    writer.transport.abort()


async def test_a_hash_inside_a_pattern_is_refused(brokers: TemporaryBrokers) -> None:
    async with brokers() as broker:
        with pytest.raises(ConfigurationError):
            await broker.declare_queue("q", ["a.#.b"])


async def test_a_queue_on_several_patterns_gets_every_pattern_flowing(
    brokers: TemporaryBrokers,
) -> None:
    """Each pattern is its own consumer; a quiet one must not starve the others."""
    async with brokers(pull_expires=0.5) as broker:
        recorder = Recorder()
        subscription = await broker.subscribe(
            "several", ["quiet.*", "busy.*", "other.#"], recorder, prefetch=4
        )
        await asyncio.sleep(0.7)  # let the first pull requests run out empty
        sent = [message("busy.X", i) for i in range(20)] + [message("other.Y.Z", 99)]
        await broker.publish(sent)
        await recorder.wait_for(len(sent))
        await subscription.stop()
    assert sorted(recorder.ids) == sorted(m.message_id for m in sent)


async def test_the_connection_recovers_and_loses_nothing_confirmed(
    brokers: TemporaryBrokers,
) -> None:
    """Cut the TCP connection mid-stream (client side only; the server keeps running)."""
    # A publish caught in the cut waits for its PubAck until publish_timeout; a
    # delivery or ack lost in the cut comes back after ack_wait.
    async with brokers(pull_expires=1.0, publish_timeout=1.0, ack_wait=2.0) as broker:
        assert isinstance(broker, NatsBroker)
        recorder = Recorder()
        await broker.subscribe("stream", ["tick.*"], recorder)
        confirmed: set[str] = set()
        for batch_number in range(20):
            batch = [message("tick.Tock", batch_number * 10 + i) for i in range(10)]
            if batch_number == 8:
                _cut_connection(broker)
            for _ in range(200):  # like the relay: publish the batch again until confirmed
                try:
                    await broker.publish(batch)
                    break
                except BrokerError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("publishing never recovered")
            confirmed.update(m.message_id for m in batch)
        await eventually(
            lambda: confirmed <= set(recorder.ids), timeout=20, what="every confirmed message"
        )
        await broker.ping()


def _cut_connection(broker: NatsBroker) -> None:
    client = broker._nc
    assert client is not None
    writer = client._transport._io_writer  # type: ignore[union-attr]
    writer.transport.abort()
