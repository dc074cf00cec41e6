"""Deliveries gone wrong on purpose: duplicated, delayed, reordered, or held until late.

:class:`FaultyBroker` wraps any :class:`~tidings.brokers.base.Broker`; what it
publishes is untouched, what its subscribers receive passes through the
:class:`DeliveryFaults` first. Every fault is one a real broker is allowed to
commit (at-least-once, no order across redeliveries), so a correct consumer must
come through each with the same effects. ::

    faults = DeliveryFaults()
    faults.duplicate(lambda d: d.topic == "payments.PaymentAuthorized")
    faults.hold(lambda d: d.topic.endswith("Reply"), until=saga_deadline_passed)
    broker = FaultyBroker(RabbitMQBroker(url), faults)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tidings.brokers.base import Broker, Delivery, Handler, OutgoingMessage, Subscription

Match = Callable[[Delivery], bool]
Condition = Callable[[], Awaitable[bool]]


def every(_delivery: Delivery) -> bool:
    return True


class _Copy(Delivery):
    """A second delivery of the same message: settling it settles nothing at the broker."""

    def __init__(self, original: Delivery) -> None:
        self.message_id = original.message_id
        self.topic = original.topic
        self.body = original.body
        self.headers = original.headers
        self.attempt = original.attempt + 1

    async def ack(self) -> None:
        return None

    async def nack(self, delay: float = 0.0) -> None:
        return None

    async def reject(self, reason: str) -> None:
        return None


@dataclass
class _Rule:
    match: Match
    remaining: int | None
    """How many more deliveries this rule takes (None: no limit)."""

    def takes(self, delivery: Delivery) -> bool:
        if self.remaining == 0 or not self.match(delivery):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass
class _Hold:
    rule: _Rule
    until: Condition
    poll: float
    timeout: float


@dataclass
class DeliveryFaults:
    """What happens to deliveries on their way to the handler; record of what did."""

    duplicated: list[str] = field(default_factory=list)
    delayed: list[str] = field(default_factory=list)
    reordered: list[list[str]] = field(default_factory=list)
    """Each batch handed over in reverse, as message ids in the order handed over."""
    held: list[str] = field(default_factory=list)
    _duplicate: list[tuple[_Rule, int]] = field(default_factory=list)
    _delay: list[tuple[_Rule, float]] = field(default_factory=list)
    _hold: list[_Hold] = field(default_factory=list)
    _reorder: tuple[_Rule, int, float] | None = None

    def duplicate(self, match: Match = every, *, copies: int = 1, times: int | None = None) -> None:
        """Hand each matching delivery over ``copies`` extra times before the original."""
        self._duplicate.append((_Rule(match, times), copies))

    def delay(self, seconds: float, match: Match = every, *, times: int | None = None) -> None:
        """Hand each matching delivery over ``seconds`` late; others overtake it meanwhile."""
        self._delay.append((_Rule(match, times), seconds))

    def hold(
        self,
        match: Match,
        until: Condition,
        *,
        times: int | None = None,
        poll: float = 0.05,
        timeout: float = 300.0,
    ) -> None:
        """Keep each matching delivery until ``until()`` is true (a late reply: hold it
        until the deadline it answers has passed), then hand it over."""
        self._hold.append(_Hold(_Rule(match, times), until, poll, timeout))

    def reorder(self, window: int, match: Match = every, *, flush_after: float = 0.5) -> None:
        """Gather up to ``window`` matching deliveries (or whatever came within
        ``flush_after`` seconds) and hand them over newest first."""
        if window < 2:
            raise ValueError("reordering needs a window of at least 2 deliveries")
        self._reorder = (_Rule(match, None), window, flush_after)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` behind these faults (what :class:`FaultyBroker` subscribes)."""
        background: set[asyncio.Task[None]] = set()
        batch: list[Delivery] = []
        flusher: list[asyncio.Task[None]] = []

        def later(work: Awaitable[None]) -> None:
            task = asyncio.ensure_future(work)
            background.add(task)
            task.add_done_callback(background.discard)

        async def hand_over(delivery: Delivery) -> None:
            for rule, copies in self._duplicate:
                if rule.takes(delivery):
                    self.duplicated.append(delivery.message_id)
                    for _ in range(copies):
                        await handler(_Copy(delivery))
                    break
            await handler(delivery)

        async def flush() -> None:
            taken = list(reversed(batch))
            batch.clear()
            flusher.clear()
            self.reordered.append([d.message_id for d in taken])
            for delivery in taken:
                await hand_over(delivery)

        async def flush_later(seconds: float) -> None:
            await asyncio.sleep(seconds)
            if flusher and flusher[0] is asyncio.current_task():
                flusher.clear()
                await flush()

        async def delayed(delivery: Delivery, seconds: float) -> None:
            await asyncio.sleep(seconds)
            await hand_over(delivery)

        async def held(delivery: Delivery, hold: _Hold) -> None:
            # Released when the condition holds, or after the timeout at the latest:
            # a held delivery is late, never lost.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + hold.timeout
            while not await hold.until() and loop.time() < deadline:
                await asyncio.sleep(hold.poll)
            await hand_over(delivery)

        async def faulty(delivery: Delivery) -> None:
            for hold in self._hold:
                if hold.rule.takes(delivery):
                    self.held.append(delivery.message_id)
                    later(held(delivery, hold))
                    return
            for delay_rule, seconds in self._delay:
                if delay_rule.takes(delivery):
                    self.delayed.append(delivery.message_id)
                    later(delayed(delivery, seconds))
                    return
            if self._reorder is not None and self._reorder[0].takes(delivery):
                _rule, window, flush_after = self._reorder
                batch.append(delivery)
                if len(batch) >= window:
                    await flush()
                elif not flusher:
                    task = asyncio.ensure_future(flush_later(flush_after))
                    flusher.append(task)
                    background.add(task)
                    task.add_done_callback(background.discard)
                return
            await hand_over(delivery)

        return faulty


class FaultyBroker(Broker):
    """``broker`` with :class:`DeliveryFaults` between it and every subscriber."""

    def __init__(self, broker: Broker, faults: DeliveryFaults) -> None:
        self.inner = broker
        self.faults = faults
        self.url = broker.url

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        await self.inner.declare_queue(queue, topics)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self.inner.publish(messages)

    async def subscribe(
        self,
        queue: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 64,
    ) -> Subscription:
        return await self.inner.subscribe(
            queue, topics, self.faults.wrap(handler), prefetch=prefetch
        )

    async def ping(self) -> None:
        await self.inner.ping()
