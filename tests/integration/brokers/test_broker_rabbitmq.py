"""RabbitMQ adapter: the conformance suite plus RabbitMQ's own guarantees, on the real server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from tidings.brokers.base import Broker, Delivery
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.errors import BrokerError, BrokerUnavailable, PublishNotConfirmed
from tidings.testing.brokers import (
    BrokerConformance,
    Recorder,
    TemporaryBrokers,
    eventually,
    message,
    temporary_brokers,
)

pytestmark = pytest.mark.rabbitmq

URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
async def brokers() -> AsyncIterator[TemporaryBrokers]:
    async with temporary_brokers("rabbitmq", URL) as made:
        yield made


class TestRabbitMQBroker(BrokerConformance):
    @pytest.fixture(autouse=True)
    def _brokers(self, brokers: TemporaryBrokers) -> None:
        self.brokers = brokers

    async def create_broker(self) -> Broker:
        return self.brokers()

    async def create_unreachable_broker(self) -> Broker:
        return RabbitMQBroker("amqp://guest:guest@127.0.0.1:1/", connect_timeout=2)


def _open(brokers: TemporaryBrokers, **options: object) -> RabbitMQBroker:
    broker = brokers(**options)
    assert isinstance(broker, RabbitMQBroker)
    return broker


async def test_mandatory_publish_to_no_queue_is_not_confirmed(
    brokers: TemporaryBrokers,
) -> None:
    async with _open(brokers, mandatory=True) as broker:
        with pytest.raises(PublishNotConfirmed):
            await broker.publish([message("nobody.Home")])
        await broker.declare_queue("home", ["nobody.*"])
        await broker.publish([message("nobody.Home")])


async def test_max_deliveries_dead_letters_a_message_that_keeps_failing(
    brokers: TemporaryBrokers,
) -> None:
    async def always_fail(_delivery: Delivery) -> None:
        raise RuntimeError("poison (expected in this test)")

    async with _open(brokers, max_deliveries=2) as broker:
        recorder = Recorder(always_fail)
        subscription = await broker.subscribe("q", ["t"], recorder)
        await broker.publish([message("t")])
        dead: list[object] = []

        async def poll() -> bool:
            dead[:] = await broker.dead_letters("q")
            return bool(dead)

        for _ in range(200):
            if await poll():
                break
            await asyncio.sleep(0.02)
        await subscription.stop()
    assert [d.attempt for d in recorder.deliveries] == [1, 2]
    assert len(dead) == 1


async def test_robust_connection_recovers_and_loses_nothing_acknowledged(
    brokers: TemporaryBrokers,
) -> None:
    """Cut the TCP connection mid-stream (client side only).

    Publishing resumes and nothing confirmed is lost.
    """
    async with _open(brokers, reconnect_interval=0.2) as broker:
        recorder = Recorder()
        await broker.subscribe("stream", ["tick.*"], recorder)
        confirmed: set[str] = set()
        failures: list[BrokerError] = []
        for batch_number in range(20):
            batch = [message("tick.Tock", batch_number * 10 + i) for i in range(10)]
            if batch_number == 8:
                _cut_connection(broker)
            # Like the relay: publish the batch again until confirmed (a loaded machine
            # may take seconds to reconnect, so the bound is time, not attempts).
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                try:
                    await broker.publish(batch)
                    break
                except BrokerError as error:
                    failures.append(error)
                    if asyncio.get_running_loop().time() > deadline:
                        raise AssertionError("publishing never recovered") from error
                    await asyncio.sleep(0.05)
            confirmed.update(m.message_id for m in batch)
        await eventually(
            lambda: confirmed <= set(recorder.ids), timeout=20, what="every confirmed message"
        )
        await broker.ping()
    assert failures, "cutting the connection should have failed a publish"
    assert all(isinstance(f, BrokerUnavailable | PublishNotConfirmed) for f in failures)


def _cut_connection(broker: RabbitMQBroker) -> None:
    connection = broker._connection
    assert connection is not None
    assert connection.transport is not None
    # aiormq keeps its StreamWriter only in its writer task; abort that socket, as a
    # dropped network would, without touching the shared server.
    writer_task = connection.transport.connection._writer_task
    writer = writer_task.get_coro().cr_frame.f_locals["writer"]
    writer.transport.abort()
