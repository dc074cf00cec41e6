"""The in-process broker: the embedded default, every service in one process.

``MemoryBroker("memory://")`` keeps its queues in memory: they die with the
process. ``MemoryBroker("memory:///path/broker.db")`` also writes every queue
to a SQLite file (see :mod:`tidings.brokers._sqlite_journal`), so messages not
yet acknowledged when the process dies are delivered after it restarts; that is
the same at-least-once guarantee the server brokers give.

Routing follows a RabbitMQ topic exchange: a queue bound to patterns (``*`` one
word, ``#`` zero or more) gets a copy of every message whose topic matches one of
them. A message published to a topic no queue is bound to is dropped, so
**declare queues before publishing** (consumers declare theirs when they start;
the relay declares nothing). ``mandatory=True`` turns such a publish into
:class:`~tidings.errors.PublishNotConfirmed` instead. :meth:`publish` returns once
every copy is stored (committed to the file, with a path): that is its confirm.

Within a process, every :class:`MemoryBroker` opened on the same URL is a
connection to the same in-process "server" (:mod:`tidings.brokers._memory_hub`),
so services built each with ``broker_from_url(settings.broker_url)`` meet the same
queues. A file belongs to one process at a time (it is locked).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tidings.brokers._dispatch import HandlerRunner, SettlingDelivery, log
from tidings.brokers._memory_hub import Hub, Queue, Stored, acquire_hub, release_hub
from tidings.brokers._topics import check_namespace, check_patterns, check_queue
from tidings.brokers.base import Broker, Handler, OutgoingMessage, Subscription
from tidings.brokers.dead_letters import DeadLetter
from tidings.errors import BrokerUnavailable, ConfigurationError

SCHEME = "memory://"


def path_from_url(url: str) -> str | None:
    """``memory://`` -> None (volatile); ``memory:///abs/file.db`` -> ``/abs/file.db``."""
    if not url.startswith(SCHEME):
        raise ConfigurationError(f"not an in-process broker URL: {url!r}")
    path = url[len(SCHEME) :]
    return path or None


class MemoryBroker(Broker):
    """A connection to the in-process broker at ``url`` (``memory://`` or ``memory://<path>``).

    Every :class:`MemoryBroker` of the process with the same URL shares the same
    queues (within its ``namespace``). ``max_deliveries`` (None: unlimited) moves a
    message delivered that many times without success to dead letters instead.
    """

    def __init__(
        self,
        url: str = SCHEME,
        *,
        namespace: str = "tidings",
        mandatory: bool = False,
        max_deliveries: int | None = None,
    ) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.namespace = check_namespace(namespace)
        self.mandatory = mandatory
        self.max_deliveries = max_deliveries
        self._hub: Hub | None = None
        self._subscriptions: set[_MemorySubscription] = set()

    async def connect(self) -> None:
        if self._hub is None:
            with _journal_errors("open"):
                self._hub = await acquire_hub(self.path)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        hub, self._hub = self._hub, None
        if hub is not None:
            await release_hub(hub)

    def _require(self) -> Hub:
        if self._hub is None:
            raise BrokerUnavailable(f"{self.url}: not connected (use `async with broker:`)")
        return self._hub

    async def ping(self) -> None:
        hub = self._require()
        with _journal_errors("ping"):
            await hub.journal.read(lambda connection: connection.execute("SELECT 1").fetchone())

    async def declare_queue(self, queue: str, topics: Sequence[str]) -> None:
        hub = self._require()
        patterns = check_patterns(topics)
        with _journal_errors("declare_queue"):
            await hub.declare(self.namespace, check_queue(queue), patterns)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self._require().publish(self.namespace, messages, mandatory=self.mandatory)

    async def subscribe(
        self,
        queue: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 64,
    ) -> Subscription:
        hub = self._require()
        patterns = check_patterns(topics)
        with _journal_errors("subscribe"):
            declared = await hub.declare(self.namespace, check_queue(queue), patterns)
        runner = HandlerRunner(handler, name=f"memory:{queue}", max_deliveries=self.max_deliveries)
        subscription = _MemorySubscription(self, hub, declared, runner, max(prefetch, 1))
        self._subscriptions.add(subscription)
        subscription.start()
        return subscription

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        hub = self._require()
        with _journal_errors("dead_letters"):
            return await hub.dead_letters(self.namespace, queue, limit)


class _MemoryDelivery(SettlingDelivery):
    def __init__(self, hub: Hub, stored: Stored) -> None:
        super().__init__(
            message_id=stored.message_id,
            topic=stored.topic,
            body=stored.body,
            headers=dict(stored.headers),
            attempt=stored.deliveries,
            ordering_key=stored.ordering_key,
        )
        self._hub = hub
        self._stored = stored

    async def _ack(self) -> None:
        await self._quietly(self._hub.ack(self._stored))

    async def _nack(self, delay: float) -> None:
        await self._quietly(self._hub.requeue(self._stored, delay))

    async def _reject(self, reason: str) -> None:
        await self._quietly(self._hub.bury(self._stored, reason))

    async def _quietly(self, settle: Coroutine[Any, Any, None]) -> None:
        # After a failed write the message is still stored: it comes back after a restart.
        try:
            await settle
        except (sqlite3.Error, OSError) as error:
            log.warning("memory broker: settling %r failed: %s", self, error)


class _MemorySubscription(Subscription):
    def __init__(
        self, broker: MemoryBroker, hub: Hub, queue: Queue, runner: HandlerRunner, prefetch: int
    ) -> None:
        self._broker = broker
        self._hub = hub
        self._queue = queue
        self._runner = runner
        self._prefetch = prefetch
        self._outstanding = 0
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            await self._take_and_hand_out()
        except Exception:
            log.exception(
                "memory broker: the subscription to %s stopped taking deliveries", self._queue.name
            )
            raise

    async def _take_and_hand_out(self) -> None:
        while not self._stopped:
            wait_for = self._queue.promote_due(time.time())
            free = self._prefetch - self._outstanding
            taken = self._queue.take(free) if free > 0 else []
            if not taken:
                await self._queue.wait(wait_for)
                continue
            self._hub.delivered(taken)
            for stored in taken:
                delivery = _MemoryDelivery(self._hub, stored)
                self._outstanding += 1
                delivery.on_settle(self._settled)
                self._runner.submit(delivery)

    def _settled(self, _delivery: SettlingDelivery) -> None:
        self._outstanding -= 1
        self._queue.notify()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._queue.notify()
        if self._task is not None:
            await self._task
        for delivery in await self._runner.stop():
            await delivery.release()
        self._broker._subscriptions.discard(self)


@contextmanager
def _journal_errors(context: str) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as error:
        raise BrokerUnavailable(f"in-process broker: {context}: {error}") from error
