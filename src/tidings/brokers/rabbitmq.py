"""RabbitMQ adapter (aio-pika): durable topology, quorum queues, publisher confirms.

Topology, all names under the broker's ``namespace``:

* exchange ``<namespace>``: durable topic exchange; a message's topic is its routing key;
* queue ``<namespace>.<queue>``: durable quorum queue bound with the queue's patterns,
  dead-lettering to exchange ``<namespace>.dlx`` (direct) with routing key ``<queue>``;
* queue ``<namespace>.<queue>.dead``: durable quorum queue bound to the dead-letter exchange.

Publishing: a message's AMQP ``content_type`` is ``application/cloudevents+json``
(its body is a structured-mode CloudEvent; the outbox sends no ``ce-*`` header), so
CloudEvents readers do not take it for binary mode. Persistent messages on a
confirm channel, up to ``confirm_window`` unconfirmed at once; messages sharing an
``ordering_key`` are published one after another (each awaits its confirm), so a
retried batch cannot overtake itself. Each declared queue is noted in the registry
queue ``<namespace>:queues`` (AMQP cannot list queues; teardown reads it).
A message no queue is bound to is dropped by the exchange, like the in-process
broker does, unless ``mandatory=True``: then the broker returns it and
:meth:`~RabbitMQBroker.publish` raises :class:`~tidings.errors.PublishNotConfirmed`.
The relay publishes events with the default: an event nobody subscribes to yet
is not an error. Use ``mandatory=True`` for commands, whose queue must exist.

Delivery: ``attempt`` is the quorum queue's ``x-delivery-count`` + 1.
``nack(delay)`` holds the delivery for ``delay`` seconds and then requeues it
(it keeps its prefetch slot meanwhile; if the connection drops first, it is
requeued at once). ``reject`` publishes a copy with the reason to the dead-letter
exchange, then acks the original (RabbitMQ's own dead-lettering would lose the
reason). The connection is robust: it reconnects and consumers resume; calls
made while it is down raise :class:`~tidings.errors.BrokerUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from tidings.brokers._dispatch import (
    DEAD_ATTEMPTS_HEADER,
    DEAD_REASON_HEADER,
    DEAD_TOPIC_HEADER,
    ORDERING_KEY_HEADER,
    HandlerRunner,
    SettlingDelivery,
    log,
    public_headers,
)
from tidings.brokers._publishing import publish_windowed
from tidings.brokers._topics import check_namespace, check_patterns, check_queue, check_topic
from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.brokers.dead_letters import DeadLetter
from tidings.brokers.errors import amqp_errors, translate_amqp
from tidings.errors import BrokerError, BrokerUnavailable
from tidings.messages.envelope import STRUCTURED_CONTENT_TYPE

_BROKER_HEADERS = ("x-delivery-count", "x-death", "x-first-death-", "x-last-death-")


class RabbitMQBroker(Broker):
    """RabbitMQ through aio-pika; ``url`` is ``amqp://user:password@host:port/vhost``."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "tidings",
        confirm_window: int = 500,
        mandatory: bool = False,
        max_deliveries: int | None = None,
        connect_timeout: float = 5.0,
        publish_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
    ) -> None:
        self.url = url
        self.namespace = check_namespace(namespace)
        self.confirm_window = max(confirm_window, 1)
        self.mandatory = mandatory
        self.max_deliveries = max_deliveries
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.reconnect_interval = reconnect_interval
        #: Every queue this broker declared (a test's cleanup deletes them).
        self.declared_queues: set[str] = set()
        self._bound: dict[str, set[str]] = {}
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._dead_exchange: AbstractExchange | None = None
        self._subscriptions: set[_RabbitSubscription] = set()

    @property
    def dead_exchange_name(self) -> str:
        return f"{self.namespace}.dlx"

    def queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}"

    def dead_queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}.dead"

    @property
    def registry_queue_name(self) -> str:
        return registry_queue_name(self.namespace)

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        if self._connection is not None:
            return
        with amqp_errors("connect"):
            connection = await aio_pika.connect_robust(
                self.url, timeout=self.connect_timeout, reconnect_interval=self.reconnect_interval
            )
        try:
            with amqp_errors("connect"):
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                self._exchange = await channel.declare_exchange(
                    self.namespace, aio_pika.ExchangeType.TOPIC, durable=True
                )
                self._dead_exchange = await channel.declare_exchange(
                    self.dead_exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
                )
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._publish_channel = channel

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        connection, self._connection = self._connection, None
        self._publish_channel = self._exchange = self._dead_exchange = None
        self._bound.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    def _require(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise BrokerUnavailable(f"{self.url}: not connected (use `async with broker:`)")
        return self._connection

    # -- topology ------------------------------------------------------------------

    def _queue_arguments(self, queue: str) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_exchange_name,
            "x-dead-letter-routing-key": queue,
        }

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        connection = self._require()
        check_queue(queue)
        patterns = check_patterns(topics)
        bound = self._bound.setdefault(queue, set())
        if bound.issuperset(patterns):
            return
        with amqp_errors(f"declare_queue {queue}"):
            # A channel of its own: a refused declaration closes the channel it ran on.
            async with connection.channel() as channel:
                dead = await channel.declare_queue(
                    self.dead_queue_name(queue),
                    durable=True,
                    arguments={"x-queue-type": "quorum"},
                )
                await dead.bind(self.dead_exchange_name, routing_key=queue)
                declared = await channel.declare_queue(
                    self.queue_name(queue), durable=True, arguments=self._queue_arguments(queue)
                )
                if queue not in self.declared_queues:
                    await _record_queue(channel, self.namespace, queue)
                self.declared_queues.add(queue)
                for pattern in patterns:
                    if pattern not in bound:
                        await declared.bind(self.namespace, routing_key=pattern)
                        bound.add(pattern)

    async def delete_namespace(self, queues: Iterable[str] = ()) -> None:
        """Delete the exchanges and the given and declared queues (with their dead queues).

        For tests and teardown: RabbitMQ cannot list queues over AMQP, so the caller
        names the queues that other broker instances declared.
        """
        connection = self._require()
        names = set(queues) | self.declared_queues
        targets = [self.queue_name(q) for q in names] + [self.dead_queue_name(q) for q in names]
        targets.append(self.registry_queue_name)
        for target in targets:
            with contextlib.suppress(Exception):
                async with connection.channel() as channel:
                    await channel.queue_delete(target)
        for exchange in (self.namespace, self.dead_exchange_name):
            with contextlib.suppress(Exception):
                async with connection.channel() as channel:
                    await channel.exchange_delete(exchange)

    # -- publishing ------------------------------------------------------------------

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self._require()
        if not messages:
            return
        for message in messages:
            check_topic(message.topic)
        failure = await publish_windowed(messages, self.confirm_window, self._publish_one)
        if failure is None:
            return
        if isinstance(failure, BrokerError):
            raise failure
        raise translate_amqp(failure, context="publish", publishing=True) from failure

    async def _publish_one(self, message: OutgoingMessage) -> None:
        exchange = self._exchange
        if exchange is None:
            raise BrokerUnavailable(f"{self.url}: not connected")
        headers: dict[str, Any] = dict(message.headers)
        if message.ordering_key is not None:
            headers[ORDERING_KEY_HEADER] = message.ordering_key
        amqp_message = aio_pika.Message(
            bytes(message.body),
            headers=headers,
            # Structured mode, said where AMQP readers look (the CloudEvents AMQP binding).
            content_type=STRUCTURED_CONTENT_TYPE,
            message_id=message.message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        with amqp_errors(f"publish {message.topic}", publishing=True):
            await exchange.publish(
                amqp_message,
                routing_key=message.topic,
                mandatory=self.mandatory,
                timeout=self.publish_timeout,
            )

    async def _publish_dead(self, queue: str, delivery: _RabbitDelivery, reason: str) -> None:
        exchange = self._dead_exchange
        if exchange is None:
            raise BrokerUnavailable(f"{self.url}: not connected")
        headers: dict[str, Any] = dict(delivery.headers)
        headers[DEAD_REASON_HEADER] = reason
        headers[DEAD_TOPIC_HEADER] = delivery.topic
        headers[DEAD_ATTEMPTS_HEADER] = str(delivery.attempt)
        if delivery.ordering_key is not None:
            headers[ORDERING_KEY_HEADER] = delivery.ordering_key
        with amqp_errors(f"dead-letter {delivery.message_id}", publishing=True):
            await exchange.publish(
                aio_pika.Message(
                    delivery.body,
                    headers=headers,
                    content_type=STRUCTURED_CONTENT_TYPE,
                    message_id=delivery.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                mandatory=True,
                timeout=self.publish_timeout,
            )

    # -- consuming ---------------------------------------------------------------------

    async def subscribe(
        self,
        queue: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 64,
    ) -> Subscription:
        await self.declare_queue(queue, topics)
        connection = self._require()
        runner = HandlerRunner(
            handler, name=f"rabbitmq:{queue}", max_deliveries=self.max_deliveries
        )
        subscription = _RabbitSubscription(self, queue, runner)
        with amqp_errors(f"subscribe {queue}"):
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=max(prefetch, 1))
            amqp_queue = await channel.declare_queue(
                self.queue_name(queue), durable=True, arguments=self._queue_arguments(queue)
            )
            await subscription.start(channel, amqp_queue)
        self._subscriptions.add(subscription)
        return subscription

    async def ping(self) -> None:
        connection = self._require()
        if connection.is_closed or not connection.connected.is_set():
            raise BrokerUnavailable(f"{self.url}: connection lost, reconnecting")
        with amqp_errors("ping"):
            async with connection.channel() as channel:
                await channel.declare_exchange(self.namespace, passive=True)

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        """Read without removing: fetched unacked, requeued when the channel closes."""
        connection = self._require()
        letters: list[DeadLetter] = []
        with amqp_errors(f"dead_letters {queue}"):
            channel = await connection.channel()
            try:
                try:
                    dead = await channel.declare_queue(self.dead_queue_name(queue), passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    return []  # never declared: nothing was rejected
                while len(letters) < limit:
                    incoming = await dead.get(no_ack=False, fail=False, timeout=5)
                    if incoming is None:
                        break
                    letters.append(_dead_letter(queue, incoming))
            finally:
                with contextlib.suppress(Exception):
                    await channel.close()
        return letters


def registry_queue_name(namespace: str) -> str:
    """The queue that names every queue declared in ``namespace`` (``:`` is refused in
    queue names, so it cannot collide with one)."""
    return f"{namespace}:queues"


async def _record_queue(channel: AbstractChannel, namespace: str, queue: str) -> None:
    """Note ``queue`` in the namespace's registry queue, one message per declaration.

    RabbitMQ cannot list queues over AMQP; the registry is how ``tidings db drop``
    finds every queue of a namespace, whichever process or machine declared it.
    """
    registry = registry_queue_name(namespace)
    await channel.declare_queue(registry, durable=True)
    await channel.default_exchange.publish(
        aio_pika.Message(queue.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=registry,
    )


def _dead_letter(queue: str, incoming: AbstractIncomingMessage) -> DeadLetter:
    raw = incoming.headers or {}
    reason = _text(raw.get(DEAD_REASON_HEADER))
    topic = _text(raw.get(DEAD_TOPIC_HEADER))
    attempts = _text(raw.get(DEAD_ATTEMPTS_HEADER))
    deaths = raw.get("x-death")
    if not reason and isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        # Dead-lettered by RabbitMQ itself (not by reject()): take what x-death says.
        reason = _text(deaths[0].get("reason")) or "dead-lettered by RabbitMQ"
        keys = deaths[0].get("routing-keys")
        topic = topic or (_text(keys[0]) if isinstance(keys, list) and keys else "")
    return DeadLetter(
        queue=queue,
        message_id=incoming.message_id or "",
        topic=topic or (incoming.routing_key or ""),
        body=incoming.body,
        reason=reason or "rejected",
        attempts=int(attempts) if attempts.isdigit() else 0,
        headers=_app_headers(raw),
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _app_headers(raw: Any) -> dict[str, str]:
    headers = public_headers(raw or {})
    return {
        name: value
        for name, value in headers.items()
        if not any(name.startswith(prefix) for prefix in _BROKER_HEADERS)
    }


class _RabbitDelivery(SettlingDelivery):
    def __init__(
        self, subscription: _RabbitSubscription, incoming: AbstractIncomingMessage
    ) -> None:
        raw = incoming.headers or {}
        count = raw.get("x-delivery-count")
        key = _text(raw.get(ORDERING_KEY_HEADER)) or None
        super().__init__(
            message_id=incoming.message_id or "",
            topic=incoming.routing_key or "",
            body=incoming.body,
            headers=_app_headers(raw),
            attempt=(count if isinstance(count, int) else 0) + 1,
            ordering_key=key,
        )
        self._subscription = subscription
        self._incoming = incoming

    async def _ack(self) -> None:
        await self._quietly("ack", self._incoming.ack())

    async def _nack(self, delay: float) -> None:
        if delay <= 0:
            await self._quietly("nack", self._incoming.nack(requeue=True))
        else:
            self._subscription.later(
                delay, lambda: self._quietly("nack", self._incoming.nack(requeue=True))
            )

    async def _release(self) -> None:
        await self._quietly("release", self._incoming.nack(requeue=True))

    async def _reject(self, reason: str) -> None:
        broker = self._subscription.broker
        try:
            await broker._publish_dead(self._subscription.queue, self, reason)
        except BrokerError as error:
            log.warning(
                "rabbitmq: dead-lettering %r failed, it will be redelivered: %s", self, error
            )
            await self._quietly("nack", self._incoming.nack(requeue=True))
            return
        await self._quietly("ack", self._incoming.ack())

    async def _quietly(self, what: str, settle: Any) -> None:
        # A delivery whose channel died is requeued by RabbitMQ: nothing to add.
        try:
            await settle
        except Exception as error:
            log.warning("rabbitmq: %s of %r failed (it will be redelivered): %s", what, self, error)


class _RabbitSubscription(Subscription):
    def __init__(self, broker: RabbitMQBroker, queue: str, runner: HandlerRunner) -> None:
        self.broker = broker
        self.queue = queue
        self._runner = runner
        self._channel: AbstractChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def start(self, channel: AbstractChannel, amqp_queue: AbstractQueue) -> None:
        self._channel = channel
        self._amqp_queue = amqp_queue
        self._tag = await amqp_queue.consume(self._on_message)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        delivery = _RabbitDelivery(self, incoming)
        if self._stopped:
            await delivery.release()
            return
        self._runner.submit(delivery)

    def later(self, delay: float, settle: Callable[[], Awaitable[None]]) -> None:
        async def wait_then_settle() -> None:
            await asyncio.sleep(delay)
            await settle()

        task = asyncio.ensure_future(wait_then_settle())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._amqp_queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._amqp_queue.cancel(self._tag)
        for delivery in await self._runner.stop():
            await delivery.release()
        for timer in list(self._timers):
            timer.cancel()
        if self._channel is not None:
            # Closing the channel requeues whatever is still unacknowledged (held nacks).
            with contextlib.suppress(Exception):
                await self._channel.close()
        self.broker._subscriptions.discard(self)
