"""A small in-process broker for the saga end-to-end tests (the broker port's contract:
topic bindings, competing subscribers per queue, redelivery on nack)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tidings.brokers.base import Broker, Delivery, Handler, OutgoingMessage, Subscription


@dataclass
class _Delivery(Delivery):
    message: OutgoingMessage
    queue: asyncio.Queue[tuple[OutgoingMessage, int]]
    attempt: int = 1
    settled: bool = False
    message_id: str = field(init=False)
    topic: str = field(init=False)
    body: bytes = field(init=False)
    headers: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.message_id = self.message.message_id
        self.topic = self.message.topic
        self.body = self.message.body
        self.headers = self.message.headers

    async def ack(self) -> None:
        self.settled = True

    async def nack(self, delay: float = 0.0) -> None:
        self.settled = True
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.queue.put_nowait, (self.message, self.attempt + 1))

    async def reject(self, reason: str) -> None:
        self.settled = True


def _matches(pattern: str, topic: str) -> bool:
    if pattern == "#":
        return True
    return fnmatch.fnmatchcase(topic, pattern)


class _Subscription(Subscription):
    def __init__(self, tasks: list[asyncio.Task[None]]) -> None:
        self.tasks = tasks

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class TestBroker(Broker):
    __test__ = False

    def __init__(self, *, delays: Mapping[str, float] | None = None) -> None:
        self.delays = dict(delays or {})
        """Seconds by which messages of a topic reach their queues late."""
        self.url = "test://"
        self.queues: dict[str, asyncio.Queue[tuple[OutgoingMessage, int]]] = {}
        self.bindings: dict[str, set[str]] = {}
        self.published: list[OutgoingMessage] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        self.queues.setdefault(queue, asyncio.Queue())
        self.bindings.setdefault(queue, set()).update(topics)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            self.published.append(message)
            for queue, patterns in self.bindings.items():
                if any(_matches(pattern, message.topic) for pattern in patterns):
                    delay = self.delays.get(message.topic, 0.0)
                    if delay:
                        loop = asyncio.get_running_loop()
                        loop.call_later(delay, self.queues[queue].put_nowait, (message, 1))
                    else:
                        self.queues[queue].put_nowait((message, 1))

    async def subscribe(
        self, queue: str, topics: Sequence[str], handler: Handler, *, prefetch: int = 64
    ) -> Subscription:
        await self.declare_queue(queue, topics)
        source = self.queues[queue]

        async def work() -> None:
            while True:
                message, attempt = await source.get()
                delivery = _Delivery(message, source, attempt)
                try:
                    await handler(delivery)
                except asyncio.CancelledError:
                    # The subscriber died mid-delivery: the broker delivers it again.
                    if not delivery.settled:
                        source.put_nowait((message, attempt + 1))
                    raise
                except Exception:
                    if not delivery.settled:
                        await delivery.nack(0.05)
                    continue
                if not delivery.settled:
                    await delivery.nack(0.05)

        return _Subscription([asyncio.create_task(work()) for _ in range(min(prefetch, 4))])
