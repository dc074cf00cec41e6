"""The brokers the saga end-to-end tests run on, each in a namespace of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import pytest
from saga_memory_broker import TestBroker

from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.brokers.memory import MemoryBroker
from tidings.brokers.nats import NatsBroker
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.testing.brokers import unique_namespace

AMQP_URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("TIDINGS_TEST_NATS_URL", "nats://127.0.0.1:4222")

BROKER_PARAMS = [
    pytest.param("memory", id="memory"),
    pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("nats", id="nats", marks=pytest.mark.nats),
]


class Wrapped(Broker):
    """Passes everything to ``inner``; subclasses change one thing."""

    def __init__(self, inner: Broker) -> None:
        self.inner = inner
        self.url = inner.url

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        await self.inner.ping()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self.inner.publish(messages)

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        await self.inner.declare_queue(queue, topics)

    async def subscribe(
        self, queue: str, topics: Sequence[str], handler: Handler, *, prefetch: int = 64
    ) -> Subscription:
        return await self.inner.subscribe(queue, topics, handler, prefetch=prefetch)


class SlowTopics(Wrapped):
    """Publishes batches holding one of ``delays``' topics that many seconds late."""

    def __init__(self, inner: Broker, delays: Mapping[str, float]) -> None:
        super().__init__(inner)
        self.delays = dict(delays)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        delay = max((self.delays.get(m.topic, 0.0) for m in messages), default=0.0)
        if delay:
            await asyncio.sleep(delay)
        await self.inner.publish(messages)


@asynccontextmanager
async def open_broker(
    kind: str, delays: Mapping[str, float] | None = None
) -> AsyncIterator[Broker]:
    """A connected broker of ``kind`` (``test``, ``memory``, ``rabbitmq``, ``nats``);
    its queues, exchanges or streams are deleted afterwards. ``delays`` holds
    messages of some topics back (seconds), to widen a window a test aims at."""
    if kind == "test":
        yield TestBroker(delays=delays)
        return
    async with _open(kind) as broker:
        yield SlowTopics(broker, delays) if delays else broker


@asynccontextmanager
async def _open(kind: str) -> AsyncIterator[Broker]:
    namespace = unique_namespace("tidings_saga")
    if kind == "memory":
        async with MemoryBroker("memory://", namespace=namespace) as memory:
            yield memory
        return
    if kind == "rabbitmq":
        rabbit = RabbitMQBroker(AMQP_URL, namespace=namespace)
        async with rabbit:
            try:
                yield rabbit
            finally:
                await rabbit.delete_namespace()
        return
    if kind == "nats":
        nats = NatsBroker(NATS_URL, namespace=namespace, ack_wait=5.0)
        async with nats:
            try:
                yield nats
            finally:
                await nats.delete_namespace()
        return
    raise ValueError(kind)
