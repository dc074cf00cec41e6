"""The broker port: what the relay and consumers need from any message broker.

Adapters: :mod:`tidings.brokers.memory` (in-process, the embedded default),
:mod:`tidings.brokers.rabbitmq` (aio-pika) and :mod:`tidings.brokers.nats`
(JetStream). All pass :mod:`tidings.testing.brokers`, one conformance suite.

Contract, shared by every adapter:

* Messages are published to a *topic* (the event or command type, dotted, e.g.
  ``user.ProfileRenamed``). A *queue* is a durable, named consumer group bound to
  topic patterns (``user.*``, ``#`` for all); every queue bound to a topic gets
  its own copy, and subscribers on the same queue compete for deliveries.
* :meth:`Broker.publish` returns only after the broker confirmed every message of
  the batch (persisted); otherwise it raises :class:`~tidings.errors.PublishNotConfirmed`
  or :class:`~tidings.errors.BrokerUnavailable`, and the caller publishes again.
  Within one batch, messages with the same ``ordering_key`` reach a queue in order.
* Delivery is at-least-once: a delivery the handler did not ``ack`` is redelivered
  (after ``nack`` with a delay, or after the subscriber crashed), with ``attempt``
  counting deliveries from 1. ``reject`` sends it to the broker's dead-letter place.
* Publishing the same ``message_id`` twice may deliver twice; consumers deduplicate
  (the inbox). Adapters that can deduplicate on publish (JetStream) do.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    topic: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    ordering_key: str | None = None
    """Messages sharing a key (an aggregate id) keep their order."""


class Delivery(abc.ABC):
    """One delivery of a message to one subscriber; settle it exactly once."""

    message_id: str
    topic: str
    body: bytes
    headers: Mapping[str, str]
    attempt: int
    """1 on the first delivery, 2 on the first redelivery, ..."""

    @abc.abstractmethod
    async def ack(self) -> None:
        """Done with it: never deliver it again."""

    @abc.abstractmethod
    async def nack(self, delay: float = 0.0) -> None:
        """Deliver it again, no sooner than ``delay`` seconds from now."""

    @abc.abstractmethod
    async def reject(self, reason: str) -> None:
        """Give up on it: move it to the broker's dead-letter place, never redeliver."""


Handler = Callable[[Delivery], Awaitable[None]]


class Subscription(abc.ABC):
    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop taking deliveries; unsettled ones are redelivered to others."""


class Broker(abc.ABC):
    """A connection to one broker. Use as ``async with broker:``; nothing connects before."""

    url: str

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        """Create the durable queue and bind it to ``topics`` (idempotent)."""

    @abc.abstractmethod
    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish a batch and return once the broker confirmed all of it."""

    @abc.abstractmethod
    async def subscribe(
        self,
        queue: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 64,
    ) -> Subscription:
        """Declare ``queue`` bound to ``topics`` and start handing deliveries to ``handler``."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`~tidings.errors.BrokerUnavailable` unless the broker answers."""

    async def __aenter__(self) -> Broker:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
