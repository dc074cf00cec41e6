"""The broker conformance suite: every adapter of :class:`~tidings.brokers.base.Broker` passes it.

Subclass :class:`BrokerConformance` in a test module (its name starts with
``Test``) and implement the hooks::

    class TestMyBroker(BrokerConformance):
        async def create_broker(self) -> Broker:
            return MyBroker(URL, namespace=unique_namespace())

        async def create_unreachable_broker(self) -> Broker:
            return MyBroker("my://127.0.0.1:1")

``create_broker`` returns a new, unconnected broker on a namespace no other test
run uses; the suite connects and closes it. Deleting what the namespace left on
a server is the subclass's job (an autouse fixture). The broker must also
implement :class:`~tidings.brokers.dead_letters.DeadLetterInspector`.

For any test that needs a real broker, :func:`temporary_brokers` makes brokers of
one kind (``memory``, ``rabbitmq``, ``nats``) on a fresh namespace and deletes
the exchanges, queues and streams they created afterwards::

    async with temporary_brokers("rabbitmq") as brokers:
        async with brokers() as publisher, brokers() as consumer:
            ...
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tidings.brokers.base import Broker, Delivery, OutgoingMessage
from tidings.brokers.dead_letters import DeadLetter, DeadLetterInspector
from tidings.errors import BrokerUnavailable

#: Seconds any single condition may take to become true.
WAIT = 10.0

#: Where each kind of broker runs for tests (override with the environment).
BROKER_URLS: dict[str, str] = {
    "memory": "memory://",
    "rabbitmq": os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "nats": os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222"),
}


def unique_namespace(prefix: str = "tidings_t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class TemporaryBrokers:
    """Makes unconnected brokers of one kind, all on one fresh namespace."""

    def __init__(self, kind: str, url: str | None = None) -> None:
        if kind not in BROKER_URLS:
            raise ValueError(f"unknown broker kind {kind!r}; use one of {sorted(BROKER_URLS)}")
        self.kind = kind
        self.url = url or BROKER_URLS[kind]
        self.namespace = unique_namespace()
        self._made: list[Broker] = []

    def __call__(self, **options: Any) -> Broker:
        """A new broker on the namespace; ``options`` go to the adapter's constructor."""
        broker: Broker
        if self.kind == "memory":
            from tidings.brokers.memory import MemoryBroker

            broker = MemoryBroker(self.url, namespace=self.namespace, **options)
        elif self.kind == "rabbitmq":
            from tidings.brokers.rabbitmq import RabbitMQBroker

            broker = RabbitMQBroker(self.url, namespace=self.namespace, **options)
        else:
            from tidings.brokers.nats import NatsBroker

            broker = NatsBroker(self.url, namespace=self.namespace, **options)
        self._made.append(broker)
        return broker

    async def cleanup(self) -> None:
        """Delete what the brokers made on the server (exchanges and queues, or streams)."""
        if self.kind == "rabbitmq":
            from tidings.brokers.rabbitmq import RabbitMQBroker

            queues = {
                q for b in self._made if isinstance(b, RabbitMQBroker) for q in b.declared_queues
            }
            rabbit = RabbitMQBroker(self.url, namespace=self.namespace)
            async with rabbit:
                await rabbit.delete_namespace(queues)
        elif self.kind == "nats":
            from tidings.brokers.nats import NatsBroker

            jetstream = NatsBroker(self.url, namespace=self.namespace)
            async with jetstream:
                await jetstream.delete_namespace()


@asynccontextmanager
async def temporary_brokers(kind: str, url: str | None = None) -> AsyncIterator[TemporaryBrokers]:
    """Brokers of ``kind`` on a fresh namespace, cleaned up on exit (see the module docstring)."""
    brokers = TemporaryBrokers(kind, url)
    try:
        yield brokers
    finally:
        await brokers.cleanup()


def message(topic: str, index: int = 0, **fields: object) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"{topic}-{index}-{uuid.uuid4().hex[:8]}",
        topic=topic,
        body=f"body {index}".encode(),
        **fields,  # type: ignore[arg-type]
    )


async def eventually(
    condition: Callable[[], bool], *, timeout: float = WAIT, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """A handler that records every delivery and settles it as told (``ack`` by default)."""

    def __init__(self, settle: Callable[[Delivery], Awaitable[None]] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self._settle = settle

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self._settle is None:
            await delivery.ack()
        else:
            await self._settle(delivery)

    @property
    def ids(self) -> list[str]:
        return [delivery.message_id for delivery in self.deliveries]

    async def wait_for(self, count: int, timeout: float = WAIT) -> None:
        await eventually(
            lambda: len(self.deliveries) >= count,
            timeout=timeout,
            what=f"{count} deliveries (have {len(self.deliveries)})",
        )


class BrokerConformance:
    """The contract of :mod:`tidings.brokers.base`, as tests. Subclass and fill the hooks."""

    async def create_broker(self) -> Broker:
        """A new, unconnected broker on a namespace of its own."""
        raise NotImplementedError

    async def create_unreachable_broker(self) -> Broker:
        """A broker whose URL points where nothing answers (e.g. port 1)."""
        raise NotImplementedError

    @pytest.fixture
    async def broker(self) -> AsyncIterator[Broker]:
        broker = await self.create_broker()
        async with broker:
            yield broker

    async def _dead_letters(self, broker: Broker, queue: str) -> Sequence[DeadLetter]:
        assert isinstance(broker, DeadLetterInspector), "brokers must offer dead_letters()"
        return await broker.dead_letters(queue)

    # -- publish and subscribe -------------------------------------------------------

    async def test_roundtrip_keeps_id_topic_body_and_headers(self, broker: Broker) -> None:
        await broker.declare_queue("orders", ["order.*"])
        sent = OutgoingMessage(
            message_id="m-1",
            topic="order.Placed",
            body=b'{"id": 1}',
            headers={"traceparent": "00-abc-def-01", "content-type": "application/json"},
        )
        await broker.publish([sent])
        recorder = Recorder()
        subscription = await broker.subscribe("orders", ["order.*"], recorder)
        await recorder.wait_for(1)
        await subscription.stop()
        (got,) = recorder.deliveries
        assert (got.message_id, got.topic, got.body) == ("m-1", "order.Placed", b'{"id": 1}')
        assert dict(got.headers) == {
            "traceparent": "00-abc-def-01",
            "content-type": "application/json",
        }
        assert got.attempt == 1

    async def test_patterns_route_like_a_topic_exchange(self, broker: Broker) -> None:
        everything, created, under_order = Recorder(), Recorder(), Recorder()
        subscriptions = [
            await broker.subscribe("all", ["#"], everything),
            await broker.subscribe("created", ["*.Created"], created),
            await broker.subscribe("order", ["order.#"], under_order),
        ]
        topics = ["order", "order.Created", "order.line.Added", "user.Created", "user.a.Created"]
        await broker.publish([message(topic, i) for i, topic in enumerate(topics)])
        await everything.wait_for(len(topics))
        await created.wait_for(2)
        await under_order.wait_for(3)
        # A message for another queue would have arrived by now: "all" saw every one.
        for subscription in subscriptions:
            await subscription.stop()
        assert sorted(d.topic for d in created.deliveries) == ["order.Created", "user.Created"]
        assert sorted(d.topic for d in under_order.deliveries) == sorted(topics[:3])

    async def test_fan_out_gives_every_queue_a_copy(self, broker: Broker) -> None:
        first, second = Recorder(), Recorder()
        one = await broker.subscribe("billing", ["order.Placed"], first)
        two = await broker.subscribe("shipping", ["order.*"], second)
        sent = [message("order.Placed", i) for i in range(5)]
        await broker.publish(sent)
        await first.wait_for(5)
        await second.wait_for(5)
        await one.stop()
        await two.stop()
        expected = sorted(m.message_id for m in sent)
        assert sorted(first.ids) == expected
        assert sorted(second.ids) == expected

    async def test_unrouted_messages_are_dropped(self, broker: Broker) -> None:
        await broker.publish([message("nobody.Listens", 0)])
        await broker.declare_queue("late", ["nobody.*"])
        after = message("nobody.Listens", 1)
        await broker.publish([after])
        recorder = Recorder()
        subscription = await broker.subscribe("late", ["nobody.*"], recorder)
        await recorder.wait_for(1)
        marker = message("nobody.Marker", 2)
        await broker.publish([marker])
        await recorder.wait_for(2)
        await subscription.stop()
        assert recorder.ids == [after.message_id, marker.message_id]

    async def test_competing_subscribers_share_and_see_each_message_once(
        self, broker: Broker
    ) -> None:
        async def slow_ack(delivery: Delivery) -> None:
            await asyncio.sleep(0.002)  # some work, so that both subscribers get a share
            await delivery.ack()

        first, second = Recorder(slow_ack), Recorder(slow_ack)
        await broker.declare_queue("work", ["job.*"])
        one = await broker.subscribe("work", ["job.*"], first, prefetch=4)
        two = await broker.subscribe("work", ["job.*"], second, prefetch=4)
        sent = [message("job.Run", i) for i in range(200)]
        await broker.publish(sent)
        await eventually(
            lambda: len(first.deliveries) + len(second.deliveries) >= 200,
            what="200 deliveries in total",
        )
        await one.stop()
        await two.stop()
        assert sorted(first.ids + second.ids) == sorted(m.message_id for m in sent)
        assert first.deliveries, "the first subscriber got no share"
        assert second.deliveries, "the second subscriber got no share"

    # -- redelivery and dead letters ------------------------------------------------

    async def test_nack_redelivers_after_the_delay(self, broker: Broker) -> None:
        nacked_at: list[float] = []

        async def nack_first(delivery: Delivery) -> None:
            if delivery.attempt == 1:
                nacked_at.append(time.monotonic())
                await delivery.nack(delay=0.3)
            else:
                await delivery.ack()

        recorder = Recorder(nack_first)
        subscription = await broker.subscribe("retry", ["retry.*"], recorder)
        sent = message("retry.Me")
        await broker.publish([sent])
        await recorder.wait_for(2)
        redelivered_after = time.monotonic() - nacked_at[0]
        await subscription.stop()
        assert [d.attempt for d in recorder.deliveries] == [1, 2]
        assert recorder.ids == [sent.message_id, sent.message_id]
        assert redelivered_after >= 0.25

    async def test_handler_exception_redelivers_with_next_attempt(self, broker: Broker) -> None:
        async def fail_first(delivery: Delivery) -> None:
            if delivery.attempt == 1:
                raise RuntimeError("transient failure (expected in this test)")
            await delivery.ack()

        recorder = Recorder(fail_first)
        subscription = await broker.subscribe("flaky", ["flaky.*"], recorder)
        sent = message("flaky.Thing", headers={"k": "v"})
        await broker.publish([sent])
        await recorder.wait_for(2)
        await subscription.stop()
        assert [d.attempt for d in recorder.deliveries] == [1, 2]
        assert dict(recorder.deliveries[1].headers) == {"k": "v"}

    async def test_reject_dead_letters_and_never_redelivers(self, broker: Broker) -> None:
        async def reject_poison(delivery: Delivery) -> None:
            if delivery.topic == "poison.Pill":
                await delivery.reject("cannot parse")
            else:
                await delivery.ack()

        recorder = Recorder(reject_poison)
        subscription = await broker.subscribe("eater", ["poison.*"], recorder)
        pill = message("poison.Pill", headers={"h": "1"})
        await broker.publish([pill])
        dead: list[DeadLetter] = []

        async def read_dead() -> None:
            dead[:] = await self._dead_letters(broker, "eater")

        deadline = time.monotonic() + WAIT
        while not dead and time.monotonic() < deadline:
            await read_dead()
            await asyncio.sleep(0.02)
        marker = message("poison.Marker")
        await broker.publish([marker])
        await eventually(lambda: marker.message_id in recorder.ids, what="the marker")
        await subscription.stop()
        assert [d.message_id for d in dead] == [pill.message_id]
        assert (dead[0].reason, dead[0].topic, dead[0].body) == (
            "cannot parse",
            pill.topic,
            pill.body,
        )
        assert dead[0].attempts == 1
        assert dict(dead[0].headers) == {"h": "1"}
        assert recorder.ids.count(pill.message_id) == 1
        assert await self._dead_letters(broker, "nobody") == []

    async def test_stop_gives_unsettled_deliveries_to_another_subscriber(
        self, broker: Broker
    ) -> None:
        async def hold(_delivery: Delivery) -> None:
            """Keep the delivery unsettled, like a consumer that died mid-work."""

        holder, taker = Recorder(hold), Recorder()
        first = await broker.subscribe("handoff", ["hand.*"], holder)
        sent = [message("hand.Off", i) for i in range(5)]
        await broker.publish(sent)
        await holder.wait_for(5)
        second = await broker.subscribe("handoff", ["hand.*"], taker)
        await first.stop()
        await taker.wait_for(5)
        await second.stop()
        assert sorted(taker.ids) == sorted(m.message_id for m in sent)
        attempts = [d.attempt for d in taker.deliveries]
        assert attempts == [2] * 5, attempts

    async def test_settling_twice_is_harmless(self, broker: Broker) -> None:
        async def ack_twice(delivery: Delivery) -> None:
            await delivery.ack()
            await delivery.ack()
            await delivery.nack()

        recorder = Recorder(ack_twice)
        subscription = await broker.subscribe("twice", ["twice.*"], recorder)
        first, marker = message("twice.A", 0), message("twice.B", 1)
        await broker.publish([first])
        await recorder.wait_for(1)
        await broker.publish([marker])
        await recorder.wait_for(2)
        await subscription.stop()
        assert recorder.ids == [first.message_id, marker.message_id]

    # -- order and volume ------------------------------------------------------------

    async def test_ordering_key_keeps_order_within_a_batch(self, broker: Broker) -> None:
        async def ack_after_yield(delivery: Delivery) -> None:
            await asyncio.sleep(0)  # let other deliveries interleave if they could
            await delivery.ack()

        recorder = Recorder(ack_after_yield)
        await broker.declare_queue("ordered", ["agg.*"])
        keys = [f"aggregate-{k}" for k in range(4)]
        sent = [
            OutgoingMessage(
                message_id=f"{keys[i % 4]}:{i // 4}",
                topic="agg.Changed",
                body=str(i // 4).encode(),
                ordering_key=keys[i % 4],
            )
            for i in range(200)
        ]
        await broker.publish(sent)
        subscription = await broker.subscribe("ordered", ["agg.*"], recorder, prefetch=64)
        await recorder.wait_for(200)
        await subscription.stop()
        for key in keys:
            versions = [int(d.body) for d in recorder.deliveries if d.message_id.startswith(key)]
            assert versions == list(range(50)), key

    async def test_a_thousand_confirmed_messages_are_all_delivered(self, broker: Broker) -> None:
        await broker.declare_queue("bulk", ["bulk.*"])
        sent = [message("bulk.Item", i) for i in range(1000)]
        await broker.publish(sent)
        recorder = Recorder()
        subscription = await broker.subscribe("bulk", ["bulk.*"], recorder, prefetch=200)
        await recorder.wait_for(1000, timeout=20)
        await subscription.stop()
        assert len(recorder.ids) == 1000
        assert set(recorder.ids) == {m.message_id for m in sent}

    async def test_publishing_nothing_is_a_no_op(self, broker: Broker) -> None:
        await broker.publish([])

    # -- health ---------------------------------------------------------------------

    async def test_ping_answers(self, broker: Broker) -> None:
        await broker.ping()

    async def test_unreachable_broker_is_unavailable_quickly(self) -> None:
        broker = await self.create_unreachable_broker()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            async with broker:
                await broker.ping()
        assert time.monotonic() - started < 10
