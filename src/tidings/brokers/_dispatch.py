"""Handing deliveries to a handler: the part every adapter shares.

:class:`HandlerRunner` runs the handler concurrently across ordering keys and
one delivery at a time within a key, so messages of one aggregate are handled
in the order the queue holds them while unrelated ones proceed in parallel.
A handler that raises leaves its delivery to be redelivered after a backoff;
a delivery past ``max_deliveries`` goes to dead letters without running the
handler, so a message that crashes its consumer every time cannot loop forever.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from tidings.brokers.base import Delivery, Handler

log = logging.getLogger("tidings.brokers")

#: Header carrying :attr:`OutgoingMessage.ordering_key` on the wire (adapters strip it on delivery).
ORDERING_KEY_HEADER = "tidings-ordering-key"
#: Header carrying the reason of a rejected message in the dead-letter place.
DEAD_REASON_HEADER = "tidings-dead-reason"
#: Header carrying the topic a dead letter was originally published to.
DEAD_TOPIC_HEADER = "tidings-dead-topic"
#: Header carrying the number of deliveries a dead letter had.
DEAD_ATTEMPTS_HEADER = "tidings-dead-attempts"

INTERNAL_HEADERS = frozenset(
    {ORDERING_KEY_HEADER, DEAD_REASON_HEADER, DEAD_TOPIC_HEADER, DEAD_ATTEMPTS_HEADER}
)


def retry_delay(attempt: int) -> float:
    """Seconds before redelivering a delivery whose handler raised: 0.1 s doubling, at most 30 s."""
    return float(min(0.1 * 2 ** max(attempt - 1, 0), 30.0))


class SettlingDelivery(Delivery):
    """A delivery settled at most once: later ``ack``/``nack``/``reject`` calls do nothing.

    Adapters implement ``_ack``, ``_nack`` and ``_reject``. Settling must not raise
    for a lost connection: an unsettled delivery is redelivered anyway, which is
    what any settle would have led to or what at-least-once allows.
    """

    def __init__(
        self,
        *,
        message_id: str,
        topic: str,
        body: bytes,
        headers: Mapping[str, str],
        attempt: int,
        ordering_key: str | None,
    ) -> None:
        self.message_id = message_id
        self.topic = topic
        self.body = body
        self.headers = headers
        self.attempt = attempt
        self.ordering_key = ordering_key
        self.settled = False
        self._on_settle: list[Callable[[SettlingDelivery], None]] = []

    def on_settle(self, callback: Callable[[SettlingDelivery], None]) -> None:
        self._on_settle.append(callback)

    def _claim(self) -> bool:
        if self.settled:
            return False
        self.settled = True
        for callback in self._on_settle:
            callback(self)
        return True

    async def ack(self) -> None:
        if self._claim():
            await self._ack()

    async def nack(self, delay: float = 0.0) -> None:
        if self._claim():
            await self._nack(max(delay, 0.0))

    async def reject(self, reason: str) -> None:
        if self._claim():
            await self._reject(reason)

    async def release(self) -> None:
        """Give the delivery back for redelivery now (the subscription stops)."""
        if self._claim():
            await self._release()

    @abc.abstractmethod
    async def _ack(self) -> None: ...

    @abc.abstractmethod
    async def _nack(self, delay: float) -> None: ...

    @abc.abstractmethod
    async def _reject(self, reason: str) -> None: ...

    async def _release(self) -> None:
        await self._nack(0.0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.topic} {self.message_id} attempt={self.attempt}>"


def public_headers(headers: Mapping[str, object]) -> dict[str, str]:
    """The application's headers: wire values as ``str``, the adapters' own headers removed."""
    result: dict[str, str] = {}
    for name, value in headers.items():
        if name in INTERNAL_HEADERS:
            continue
        if isinstance(value, bytes):
            result[name] = value.decode("utf-8", "replace")
        elif isinstance(value, str):
            result[name] = value
        elif isinstance(value, bool | int | float):
            result[name] = str(value)
    return result


class HandlerRunner:
    """Runs ``handler`` on submitted deliveries; see the module docstring.

    The runner does not limit how many deliveries are in flight: adapters only
    submit what their prefetch allows.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        name: str,
        max_deliveries: int | None = None,
        stop_grace: float = 5.0,
    ) -> None:
        self._handler = handler
        self._name = name
        self._max_deliveries = max_deliveries
        self._stop_grace = stop_grace
        self._chains: dict[str, deque[SettlingDelivery]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsettled: set[SettlingDelivery] = set()
        self._stopping = False

    @property
    def unsettled(self) -> int:
        return len(self._unsettled)

    def submit(self, delivery: SettlingDelivery) -> None:
        if self._stopping:
            self._spawn(delivery.release())
            return
        self._unsettled.add(delivery)
        delivery.on_settle(self._unsettled.discard)
        key = delivery.ordering_key
        if key is None:
            self._spawn(self._handle(delivery))
        elif key in self._chains:
            self._chains[key].append(delivery)
        else:
            self._chains[key] = deque([delivery])
            self._spawn(self._run_chain(key))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_chain(self, key: str) -> None:
        chain = self._chains[key]
        try:
            while chain and not self._stopping:
                await self._handle(chain.popleft())
        finally:
            if self._chains.get(key) is chain and not chain:
                del self._chains[key]

    async def _handle(self, delivery: SettlingDelivery) -> None:
        if self._max_deliveries is not None and delivery.attempt > self._max_deliveries:
            await delivery.reject(f"delivered {delivery.attempt - 1} times without success")
            return
        try:
            await self._handler(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: handler failed on %r", self._name, delivery)
            if not delivery.settled:
                await delivery.nack(retry_delay(delivery.attempt))

    async def stop(self) -> list[SettlingDelivery]:
        """Start nothing new, let running handlers finish (up to the grace period).

        Returns the deliveries still unsettled; the adapter gives them back to the
        broker (or lets the broker take them back by closing the channel).
        """
        self._stopping = True
        running = set(self._tasks)
        if running:
            _done, pending = await asyncio.wait(running, timeout=self._stop_grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._chains.clear()
        return [delivery for delivery in self._unsettled if not delivery.settled]
