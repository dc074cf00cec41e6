"""NATS JetStream adapter (nats-py): one stream per namespace, durable pull consumers.

Layout, all names under the broker's ``namespace``:

* stream ``<namespace>`` captures subjects ``<namespace>.>``; a topic ``t`` is the subject
  ``<namespace>.t``. Retention is *interest*: a message stays until every queue bound to it
  acknowledged it, and a message no queue is bound to is not kept (as on a RabbitMQ topic
  exchange). Publishes carry ``Nats-Msg-Id`` = ``message_id``, so the stream drops a
  duplicate published within ``duplicate_window`` (a relay retrying a batch), and
  ``content-type: application/cloudevents+json`` (the body is a structured-mode
  CloudEvent and the outbox sends no ``ce-*`` header, so CloudEvents readers do not
  see binary mode; deliveries do not show this marker among their headers).
* a queue is one durable pull consumer per subject filter (``<queue>-<hash>``; NATS
  servers before 2.10 take one filter per consumer). Patterns map ``*`` -> ``*`` and a
  trailing ``#`` -> the prefix itself plus ``prefix.>``; a ``#`` elsewhere is refused.
  A filter inside another of the same queue is dropped; two patterns that only partly
  overlap (``a.*`` and ``*.b``) deliver a message matching both twice.
  New consumers start with messages published after they were created.
* stream ``<namespace>-dlq`` (subjects ``<namespace>-dlq.<queue>``) holds dead letters:
  ``reject`` publishes the message there with its reason, then terminates it.

Redelivery: ``nack(delay)`` is a NAK with that delay; a delivery nobody settles is
redelivered after ``ack_wait`` (a crashed subscriber; 10 s by default, well inside
a saga step's deadline, while a live subscriber keeps a long handler's delivery
alive with in-progress acks). JetStream's own max-deliver
is unlimited: with ``max_deliveries`` set, the adapter dead-letters a delivery past
the limit itself (with a reason), instead of JetStream silently dropping it.
``attempt`` is JetStream's delivery count.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import nats
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscriptionHandle
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
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
from tidings.brokers._topics import (
    check_namespace,
    check_patterns,
    check_queue,
    check_topic,
    minimal_nats_filters,
)
from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.brokers.dead_letters import DeadLetter
from tidings.brokers.errors import nats_errors, translate_nats
from tidings.errors import BrokerError, BrokerUnavailable
from tidings.messages.envelope import HEADER_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE

MSG_ID = "Nats-Msg-Id"
#: The CloudEvents NATS binding's structured-mode marker (no ``ce-*`` header travels).
CONTENT_TYPE_HEADER = HEADER_CONTENT_TYPE
_NANOS = 1_000_000_000


class NatsBroker(Broker):
    """NATS JetStream through nats-py; ``url`` is ``nats://host:port[,nats://host2:port]``."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "tidings",
        confirm_window: int = 500,
        max_deliveries: int | None = None,
        ack_wait: float = 10.0,
        duplicate_window: float = 120.0,
        max_age: float | None = None,
        connect_timeout: float = 5.0,
        publish_timeout: float = 10.0,
        pull_expires: float = 5.0,
    ) -> None:
        self.url = url
        self.namespace = check_namespace(namespace)
        self.confirm_window = max(confirm_window, 1)
        self.max_deliveries = max_deliveries
        self.ack_wait = ack_wait
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.pull_expires = pull_expires
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._consumers: dict[str, tuple[str, ...]] = {}
        self._patterns: dict[str, tuple[str, ...]] = {}
        self._subscriptions: set[_NatsSubscription] = set()

    @property
    def stream(self) -> str:
        return self.namespace

    @property
    def dead_stream(self) -> str:
        return f"{self.namespace}-dlq"

    def subject(self, topic: str) -> str:
        return f"{self.namespace}.{topic}"

    def dead_subject(self, queue: str) -> str:
        return f"{self.dead_stream}.{queue}"

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        if self._nc is not None:
            return

        async def on_error(error: Exception) -> None:
            log.debug("nats: %s", error)

        with nats_errors("connect"):
            # Fail fast on the first connection: one retry per server (nats-py treats 0
            # as "forever"), under an overall timeout. Once connected, reconnect
            # forever: the client reads these options again on every disconnect.
            async with asyncio.timeout(2 * self.connect_timeout + 1):
                nc = await nats.connect(
                    servers=self.url.split(","),
                    connect_timeout=self.connect_timeout,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.5,
                    error_cb=on_error,
                    name=f"tidings-{self.namespace}",
                )
        nc.options["max_reconnect_attempts"] = -1
        try:
            js = nc.jetstream(timeout=self.publish_timeout)
            with nats_errors("connect"):
                await self._ensure_stream(
                    js,
                    StreamConfig(
                        name=self.stream,
                        subjects=[f"{self.namespace}.>"],
                        retention=RetentionPolicy.INTEREST,
                        storage=StorageType.FILE,
                        duplicate_window=self.duplicate_window,
                        max_age=self.max_age,
                    ),
                )
                await self._ensure_stream(
                    js,
                    StreamConfig(
                        name=self.dead_stream,
                        subjects=[f"{self.dead_stream}.>"],
                        retention=RetentionPolicy.LIMITS,
                        storage=StorageType.FILE,
                        duplicate_window=self.duplicate_window,
                    ),
                )
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js

    @staticmethod
    async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(config)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        nc, self._nc, self._js = self._nc, None, None
        self._consumers.clear()
        self._patterns.clear()
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    def _require(self) -> tuple[Client, JetStreamContext]:
        if self._nc is None or self._js is None:
            raise BrokerUnavailable(f"{self.url}: not connected (use `async with broker:`)")
        return self._nc, self._js

    async def delete_namespace(self) -> None:
        """Delete both streams and with them every consumer (tests and teardown)."""
        _, js = self._require()
        for stream in (self.stream, self.dead_stream):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(stream)

    # -- topology ------------------------------------------------------------------

    def consumer_name(self, queue: str, subject_filter: str) -> str:
        digest = hashlib.sha1(subject_filter.encode()).hexdigest()[:10]
        return f"{queue.replace('.', '_')}-{digest}"

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        await self._declare(queue, topics)

    async def _declare(self, queue: str, topics: Sequence[str]) -> tuple[str, ...]:
        _, js = self._require()
        check_queue(queue)
        patterns = check_patterns(topics)
        known = self._consumers.get(queue)
        if known is not None and set(patterns) <= set(self._patterns[queue]):
            return known
        filters = minimal_nats_filters(patterns)
        names: list[str] = []
        with nats_errors(f"declare_queue {queue}"):
            for subject_filter in filters:
                name = self.consumer_name(queue, subject_filter)
                try:
                    await js.consumer_info(self.stream, name)
                except nats.js.errors.NotFoundError:
                    await js.add_consumer(
                        self.stream,
                        ConsumerConfig(
                            durable_name=name,
                            description=f"tidings queue {queue}: {subject_filter}",
                            filter_subject=self.subject(subject_filter),
                            ack_policy=AckPolicy.EXPLICIT,
                            deliver_policy=DeliverPolicy.NEW,
                            ack_wait=self.ack_wait,
                            max_deliver=-1,
                            max_ack_pending=20_000,
                        ),
                    )
                names.append(name)
        self._consumers[queue] = tuple(names)
        self._patterns[queue] = patterns
        return tuple(names)

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
        raise translate_nats(failure, context="publish", publishing=True) from failure

    async def _publish_one(self, message: OutgoingMessage) -> None:
        _, js = self._require()
        headers = _with_content_type(message.headers)
        headers[MSG_ID] = message.message_id
        if message.ordering_key is not None:
            headers[ORDERING_KEY_HEADER] = message.ordering_key
        with nats_errors(f"publish {message.topic}", publishing=True):
            # No expected-stream header: the namespace's subjects belong to its stream
            # alone, and the server's check of that header costs throughput.
            await js.publish(
                self.subject(message.topic),
                bytes(message.body),
                timeout=self.publish_timeout,
                headers=headers,
            )

    async def _publish_dead(self, queue: str, delivery: _NatsDelivery, reason: str) -> None:
        _, js = self._require()
        headers = _with_content_type(delivery.headers)
        headers[DEAD_REASON_HEADER] = reason
        headers[DEAD_TOPIC_HEADER] = delivery.topic
        headers[DEAD_ATTEMPTS_HEADER] = str(delivery.attempt)
        headers["tidings-message-id"] = delivery.message_id
        # One dead letter per stream message, even if rejected again before the ack landed.
        headers[MSG_ID] = f"{queue}/{delivery.stream_sequence}"
        with nats_errors(f"dead-letter {delivery.message_id}", publishing=True):
            await js.publish(
                self.dead_subject(queue),
                delivery.body,
                timeout=self.publish_timeout,
                stream=self.dead_stream,
                headers=headers,
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
        consumers = await self._declare(queue, topics)
        runner = HandlerRunner(handler, name=f"nats:{queue}", max_deliveries=self.max_deliveries)
        subscription = _NatsSubscription(self, queue, consumers, runner, max(prefetch, 1))
        with nats_errors(f"subscribe {queue}"):
            await subscription.start()
        self._subscriptions.add(subscription)
        return subscription

    async def ping(self) -> None:
        nc, js = self._require()
        if not nc.is_connected:
            raise BrokerUnavailable(f"{self.url}: connection lost, reconnecting")
        with nats_errors("ping"):
            await js.stream_info(self.stream)

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        _, js = self._require()
        letters: list[DeadLetter] = []
        sequence = 1
        with nats_errors(f"dead_letters {queue}"):
            while len(letters) < limit:
                try:
                    raw = await js.get_msg(
                        self.dead_stream, seq=sequence, subject=self.dead_subject(queue), next=True
                    )
                except nats.js.errors.NotFoundError:
                    break
                headers: dict[str, Any] = dict(raw.headers or {})
                attempts = str(headers.get(DEAD_ATTEMPTS_HEADER, "0"))
                letters.append(
                    DeadLetter(
                        queue=queue,
                        message_id=str(headers.get("tidings-message-id", "")),
                        topic=str(headers.get(DEAD_TOPIC_HEADER, "")),
                        body=raw.data or b"",
                        reason=str(headers.get(DEAD_REASON_HEADER, "rejected")),
                        attempts=int(attempts) if attempts.isdigit() else 0,
                        headers=_app_headers(headers),
                    )
                )
                assert raw.seq is not None
                sequence = raw.seq + 1
        return letters


def _with_content_type(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers to publish: structured mode said the way the CloudEvents NATS
    binding reads it, unless the application set a content type itself."""
    published = dict(headers)
    if not any(name.lower() == CONTENT_TYPE_HEADER for name in published):
        published[CONTENT_TYPE_HEADER] = STRUCTURED_CONTENT_TYPE
    return published


def _app_headers(raw: dict[str, Any]) -> dict[str, str]:
    return {
        name: value
        for name, value in public_headers(raw).items()
        if not name.startswith("Nats-")
        and name not in ("Status", "Description")
        and name != "tidings-message-id"
        # The adapter's own structured-mode marker (see _with_content_type).
        and not (name == CONTENT_TYPE_HEADER and value == STRUCTURED_CONTENT_TYPE)
    }


class _NatsDelivery(SettlingDelivery):
    def __init__(self, subscription: _NatsSubscription, msg: Msg) -> None:
        raw: dict[str, Any] = dict(msg.headers or {})
        metadata = msg.metadata
        topic = msg.subject.removeprefix(subscription.broker.namespace + ".")
        super().__init__(
            message_id=str(raw.get(MSG_ID, "")),
            topic=topic,
            body=msg.data,
            headers=_app_headers(raw),
            attempt=metadata.num_delivered or 1,
            ordering_key=raw.get(ORDERING_KEY_HEADER) or None,
        )
        self.stream_sequence = metadata.sequence.stream if metadata.sequence else 0
        self._subscription = subscription
        self._msg = msg

    async def _ack(self) -> None:
        await self._quietly("ack", self._msg.ack)

    async def _nack(self, delay: float) -> None:
        if delay > 0:
            await self._quietly("nak", lambda: self._msg.nak(delay=delay))
        else:
            await self._quietly("nak", self._msg.nak)

    async def _reject(self, reason: str) -> None:
        try:
            await self._subscription.broker._publish_dead(self._subscription.queue, self, reason)
        except BrokerError as error:
            log.warning("nats: dead-lettering %r failed, it will be redelivered: %s", self, error)
            await self._quietly("nak", self._msg.nak)
            return
        await self._quietly("term", self._msg.term)

    async def keep_alive(self) -> None:
        if not self.settled:
            await self._quietly("in-progress", self._msg.in_progress)

    async def _quietly(self, what: str, settle: Any) -> None:
        # A lost ack or nak only means JetStream redelivers after ack_wait.
        try:
            await settle()
        except Exception as error:
            log.warning("nats: %s of %r failed (it will be redelivered): %s", what, self, error)


class _NatsSubscription(Subscription):
    """Pull loops, one per consumer of the queue, each with its share of the prefetch.

    A share per loop (rather than one pool) keeps a loop whose consumer is busy
    from taking the whole budget while another consumer's messages wait.
    """

    def __init__(
        self,
        broker: NatsBroker,
        queue: str,
        consumers: tuple[str, ...],
        runner: HandlerRunner,
        prefetch: int,
    ) -> None:
        self.broker = broker
        self.queue = queue
        self._consumers = consumers
        self._runner = runner
        self._share = max(1, prefetch // max(len(consumers), 1))
        self._stopped = False
        self._loops: list[_PullLoop] = []
        self._unsettled: set[_NatsDelivery] = set()
        self._keepalive: asyncio.Task[None] | None = None

    async def start(self) -> None:
        nc, _ = self.broker._require()
        for consumer in self._consumers:
            loop = _PullLoop(self, nc, consumer, self._share)
            await loop.start()
            self._loops.append(loop)
        self._keepalive = asyncio.ensure_future(self._keep_alive())

    def deliver(self, msg: Msg, loop: _PullLoop) -> None:
        delivery = _NatsDelivery(self, msg)
        self._unsettled.add(delivery)
        delivery.on_settle(loop.settled)
        delivery.on_settle(self._settled)
        self._runner.submit(delivery)

    def _settled(self, delivery: SettlingDelivery) -> None:
        self._unsettled.discard(delivery)

    async def _keep_alive(self) -> None:
        """Tell JetStream that deliveries still held by this live process are in progress.

        Without it a handler (or a consumer batching its acks) that holds a delivery
        longer than ``ack_wait`` would see it redelivered to someone else meanwhile;
        a crashed process stops sending these, and JetStream redelivers after ack_wait.
        """
        interval = max(self.broker.ack_wait / 3, 0.1)
        while not self._stopped:
            await asyncio.sleep(interval)
            for delivery in list(self._unsettled):
                await delivery.keep_alive()

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        for loop in self._loops:
            loop.stop()
        for loop in self._loops:
            await loop.finish()
        with contextlib.suppress(Exception):
            await self.broker._require()[0].flush(timeout=2)
        for delivery in await self._runner.stop():
            await delivery.release()
        self.broker._subscriptions.discard(self)


class _PullLoop:
    """Keeps one lingering pull request (``$JS.API.CONSUMER.MSG.NEXT``) open for the free budget.

    A request asks for at most ``budget`` minus what is unsettled and expires
    after ``pull_expires``; the next one follows when it is over and budget is free.
    """

    def __init__(
        self, subscription: _NatsSubscription, nc: Client, consumer: str, budget: int
    ) -> None:
        self._subscription = subscription
        self._nc = nc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{subscription.broker.stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._budget = budget
        self._outstanding = 0
        self._remaining = 0
        self._handle: NatsSubscriptionHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._request_over = asyncio.Event()
        self._capacity = asyncio.Event()

    def _free(self) -> int:
        return self._budget - self._outstanding - self._remaining

    def settled(self, _delivery: SettlingDelivery) -> None:
        self._outstanding -= 1
        self._capacity.set()

    async def start(self) -> None:
        self._handle = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        expires = self._subscription.broker.pull_expires
        while not self._subscription.stopped:
            batch = self._free()
            if batch <= 0:
                self._capacity.clear()
                if self._free() <= 0 and not self._subscription.stopped:
                    await self._capacity.wait()
                continue
            self._remaining = batch
            self._request_over.clear()
            request = {"batch": batch, "expires": int(expires * _NANOS)}
            try:
                await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._request_over.wait(), expires + 1.0)
            except Exception as error:  # disconnected: try again once reconnected
                log.debug("nats: pull request on %s failed: %s", self._next, error)
                await asyncio.sleep(0.2)
            finally:
                self._remaining = 0

    async def _on_msg(self, msg: Msg) -> None:
        status = (msg.headers or {}).get("Status")
        if status:
            if status != "100":  # 404/408/409: this pull request is over (100 is a heartbeat)
                self._request_over.set()
            return
        if self._remaining > 0:
            self._remaining -= 1
            if self._remaining == 0:
                self._request_over.set()
        if self._subscription.stopped:
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        self._outstanding += 1
        self._subscription.deliver(msg, self)

    def stop(self) -> None:
        self._request_over.set()
        self._capacity.set()

    async def finish(self) -> None:
        """Wait for the loop to end and drop the inbox.

        Unsubscribing before the unsettled deliveries are NAKed matters: the server
        skips a pending pull request whose inbox has no interest, so the NAKed
        messages go to another subscriber instead of bouncing back here. A message
        already on the wire to this inbox is lost to it and redelivered after ack_wait.
        """
        if self._task is not None:
            await self._task
        if self._handle is not None:
            with contextlib.suppress(Exception):
                await self._handle.unsubscribe()
