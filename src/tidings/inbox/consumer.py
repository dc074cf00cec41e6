"""The consumer: typed handlers behind an inbox, with retries and dead letters.

For each delivery the consumer parses the envelope, loads the typed message and
runs its handler in a unit of work that first claims (consumer, message id) in
the inbox. The claim and the handler's effects commit together, so

* a redelivered message finds its claim and is acknowledged with no second effect;
* of two deliveries of one message racing in two workers, the inbox primary key
  lets exactly one commit: the other waits on the row, gets an IntegrityError,
  rolls back and acknowledges.

Failures (see :class:`Outcome`):

* bytes that are not an envelope, an unknown type, data that fails validation,
  or a handler raising :class:`~tidings.errors.MessageError`: dead-lettered at
  once, acknowledged;
* any other exception: retried in-process with the :class:`RetryPolicy`'s
  backoff, each attempt in a fresh transaction; after the last attempt
  dead-lettered with the error, acknowledged;
* the database unreachable after the last attempt, or the dead letter cannot be
  stored: the delivery goes back to the broker (``nack`` with a delay), since the
  message is not at fault and must not be lost.

Order. An event carrying its aggregate's id and version is applied only after the
previous version (:mod:`tidings.inbox.ordering`): the last version applied per
aggregate commits with the effect, an event that arrives ahead of its
predecessor is held back (:attr:`Outcome.HELD`: a subscribed consumer parks it
until it applies the predecessor, :mod:`tidings.inbox._waiting`, otherwise it
goes back to the broker for a moment), and one that arrives after a later
version took effect is dead-lettered (``out_of_order``). This holds across
consumer crashes and across processes competing on one queue, on every broker.
A gap that lasts ``order_gap_timeout`` seconds is applied anyway and counted
(``tidings_order_gaps``).

Batching. Deliveries reaching a subscribed consumer while ``concurrent_batches``
transactions are already running wait and are then applied together, up to
``batch_size`` in one transaction: the inbox rows of all in one statement, then
the handlers one after another. The deliveries of one batch were all in flight at
once, so the broker adapter already judged them independent (no two share an
ordering key); the positions are checked and moved in the batch's transaction too.
If anything in the batch fails, it is rolled back and each message is applied
alone, exactly as above, so a duplicate, a poison message or an event ahead of its
predecessor only costs its batch one extra (rolled back) attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import insert, select

from tidings.brokers.base import Broker, Delivery, Subscription
from tidings.errors import (
    ConfigurationError,
    IntegrityError,
    InterfaceError,
    InvalidMessage,
    MalformedMessage,
    MessageError,
    OperationalError,
    StorageError,
    UnknownMessageType,
)
from tidings.inbox import metrics
from tidings.inbox._batching import Batcher
from tidings.inbox._waiting import WaitingRoom
from tidings.inbox.ordering import (
    FIRST_VERSION,
    OrderKey,
    OutOfOrder,
    Position,
    advance,
    keeps_positions,
    order_key,
)
from tidings.inbox.records import record
from tidings.inbox.retry import RetryPolicy
from tidings.inbox.store import Reason, store_dead_letter
from tidings.inbox.tables import MAX_ID_LENGTH, MAX_TYPE_LENGTH, inbox, inbox_positions
from tidings.messages import Envelope, Message, MessageRegistry, decode
from tidings.messages.causation import caused_by
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

log = logging.getLogger("tidings.inbox")

M = TypeVar("M", bound=Message)
MessageHandler = Callable[[UnitOfWork, M, Envelope], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

#: Longest pause before an event held back for its predecessor comes again.
HOLD_DELAY_MAX = 1.0
# How many held-back message ids a consumer remembers before forgetting stale ones.
_HELD_MEMORY = 10_000

# Not the message's fault: the database is away. Such a message is handed back
# to the broker rather than dead-lettered.
_INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class Outcome(StrEnum):
    """What became of one message."""

    APPLIED = "applied"
    """The handler's effects and the inbox row committed."""
    DUPLICATE = "duplicate"
    """The inbox already held the message: no effect, acknowledged."""
    DEAD_LETTERED = "dead_lettered"
    """Stored in the dead-letter store, acknowledged."""
    DEFERRED = "deferred"
    """The database was unavailable: handed back to the broker for later."""
    IGNORED = "ignored"
    """A known type this consumer has no handler for: acknowledged, no effect."""
    HELD = "held"
    """Ahead of its aggregate's previous event: handed back to the broker to come again."""

    @property
    def settled(self) -> bool:
        """Whether the delivery is finished with (acknowledged) rather than handed back."""
        return self not in (Outcome.DEFERRED, Outcome.HELD)


class _Duplicate(Exception):
    """The inbox claim failed: the message was (or is being) applied elsewhere."""


@dataclass(frozen=True)
class _Ready:
    """A delivery parsed and typed, with its handler: what remains is applying it."""

    handler: MessageHandler[Any]
    message: Message
    envelope: Envelope
    body: bytes
    headers: dict[str, str]
    topic: str | None


class Consumer:
    """A named consumer of one service: handlers by message type, behind an inbox.

    ``name`` is the inbox key and, with the service, names the broker queue
    (``<service>.<name>``). One handler per message type; handlers have the
    signature ``async def handler(uow, message, envelope) -> None``.
    ``batch_size`` and ``concurrent_batches`` shape the batching of subscribed
    deliveries (see the module docstring); ``batch_size=1`` turns it off, and so
    does a subclass overriding :meth:`process` or :meth:`handle_delivery`.
    ``keep_order`` (on by default) applies each aggregate's events in version order
    when the database has the ``inbox_positions`` table; ``order_gap_timeout`` is
    how long an event waits for a missing predecessor before it is applied anyway.
    """

    def __init__(
        self,
        name: str,
        database: Database,
        registry: MessageRegistry,
        *,
        service: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        batch_size: int = 100,
        concurrent_batches: int = 4,
        keep_order: bool = True,
        order_gap_timeout: float = 120.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not name or len(name) > MAX_ID_LENGTH:
            raise ConfigurationError(f"a consumer name has 1 to {MAX_ID_LENGTH} characters")
        self.name = name
        self.database = database
        self.registry = registry
        self.service = service or database.service
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._handlers: dict[type[Message], MessageHandler[Any]] = {}
        self.batch_size = max(batch_size, 1)
        self._batcher: Batcher[_Ready, Outcome | Exception] = Batcher(
            self._apply_batch, max_batch=self.batch_size, max_concurrent=concurrent_batches
        )
        self.keep_order = keep_order
        self.order_gap_timeout = max(order_gap_timeout, 0.0)
        self._clock = clock
        # Whether the database has inbox_positions; None until first looked at.
        self._has_positions: bool | None = None
        # Message id -> when this process first held it back (its clock).
        self._held: dict[str, float] = {}
        self._waiting = WaitingRoom(patience=0.5)
        self._park_limit = 32

    def __repr__(self) -> str:
        return f"Consumer({self.name!r}, service={self.service!r})"

    # -- declaring handlers ----------------------------------------------------

    def on(self, message_type: type[M], handler: MessageHandler[M]) -> None:
        """Run ``handler`` for every message of ``message_type`` (a registered model)."""
        try:
            self.registry.type_name_of(message_type)
        except UnknownMessageType as error:
            raise ConfigurationError(f"consumer {self.name}: {error}") from None
        if message_type in self._handlers:
            raise ConfigurationError(
                f"consumer {self.name} already handles {message_type.__name__}"
            )
        self._handlers[message_type] = handler

    def handles(self, message_type: type[M]) -> Callable[[MessageHandler[M]], MessageHandler[M]]:
        """Decorator form of :meth:`on`."""

        def decorate(handler: MessageHandler[M]) -> MessageHandler[M]:
            self.on(message_type, handler)
            return handler

        return decorate

    @property
    def queue(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def topics(self) -> list[str]:
        """The type names of the handled messages: the topics to bind."""
        return sorted({self.registry.type_name_of(kind) for kind in self._handlers})

    # -- entry points ------------------------------------------------------------

    async def start(
        self,
        broker: Broker,
        queue: str | None = None,
        topics: Sequence[str] | None = None,
        *,
        prefetch: int = 64,
    ) -> Subscription:
        """Subscribe to ``queue`` (default ``<service>.<name>``) bound to the handled types."""
        if not self._handlers and not topics:
            raise ConfigurationError(f"consumer {self.name} has no handlers")
        # Parked deliveries hold prefetch slots: at most half, so the rest can bring
        # the predecessors they wait for.
        self._park_limit = max(prefetch // 2, 1)
        return await broker.subscribe(
            queue or self.queue,
            list(topics) if topics is not None else self.topics,
            self._on_delivery,
            prefetch=prefetch,
        )

    async def _on_delivery(self, delivery: Delivery) -> None:
        """The subscription's handler: like :meth:`handle_delivery`, in batches."""
        if not self._batching:
            await self.handle_delivery(delivery)
            return
        self._log_redelivery(delivery)
        prepared = await self._prepare(delivery.body, delivery.headers, delivery.topic)
        if isinstance(prepared, Outcome):
            outcome = prepared
        else:
            outcome = await self._submit(prepared)
            if outcome is Outcome.HELD and self._park(delivery, prepared):
                return
        await self._settle(delivery, outcome)

    @property
    def _crowded(self) -> bool:
        return len(self._waiting) >= self._park_limit

    async def _submit(self, ready: _Ready) -> Outcome:
        result = await self._batcher.submit(ready)
        if isinstance(result, Exception):
            raise result
        return result

    def _park(self, delivery: Delivery, ready: _Ready) -> bool:
        """Keep a held-back delivery, unsettled, until its predecessor is applied here
        or the waiting room's patience runs out (see :mod:`tidings.inbox._waiting`)."""
        key = order_key(ready.envelope)
        if key is None or self._crowded:
            return False

        async def resume(timed_out: bool) -> None:
            try:
                outcome = await self._submit(ready)
            except Exception as error:
                log.warning(
                    "consumer %s: retrying a held-back delivery failed: %r", self.name, error
                )
                await delivery.nack(hold_delay(delivery.attempt))
                return
            if outcome is Outcome.HELD:
                if timed_out and self._crowded:
                    await delivery.nack(hold_delay(delivery.attempt))
                else:
                    self._waiting.park((key.aggregate_type, key.aggregate_id), key.version, resume)
                return
            await self._settle(delivery, outcome)

        self._waiting.park((key.aggregate_type, key.aggregate_id), key.version, resume)
        return True

    @property
    def _batching(self) -> bool:
        # A subclass that extends process() or handle_delivery() sees every delivery
        # pass through them, one at a time, as it did before batching existed.
        kind = type(self)
        return (
            self.batch_size > 1
            and kind.process is Consumer.process
            and kind.handle_delivery is Consumer.handle_delivery
        )

    async def handle_delivery(self, delivery: Delivery) -> Outcome:
        """Process one delivery and settle it: ack, or nack with a delay when deferred."""
        self._log_redelivery(delivery)
        outcome = await self.process(delivery.body, delivery.headers, topic=delivery.topic)
        await self._settle(delivery, outcome)
        return outcome

    def _log_redelivery(self, delivery: Delivery) -> None:
        if delivery.attempt > 1:
            log.info(
                "consumer %s: delivery %d of %s", self.name, delivery.attempt, delivery.message_id
            )

    async def _settle(self, delivery: Delivery, outcome: Outcome) -> None:
        if outcome.settled:
            await delivery.ack()
        elif outcome is Outcome.HELD:
            await delivery.nack(hold_delay(delivery.attempt))
        else:
            await delivery.nack(self.retry.max_delay)

    async def process(
        self,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        topic: str | None = None,
    ) -> Outcome:
        """Apply one message (broker-free); the caller settles the delivery, if any."""
        prepared = await self._prepare(body, headers, topic)
        if isinstance(prepared, Outcome):
            return prepared
        return await self._apply_with_retries(prepared)

    async def _prepare(
        self, body: bytes, headers: Mapping[str, str] | None, topic: str | None
    ) -> _Ready | Outcome:
        """The typed message and its handler, or the outcome if it cannot be applied."""
        headers = dict(headers or {})
        try:
            envelope = decode(body)
        except MalformedMessage as error:
            return await self._give_up(
                Reason.MALFORMED, str(error), body, headers, topic, ids=_salvage_ids(body)
            )
        except Exception as error:  # a decoder bug must not stop the consumer
            return await self._give_up(
                Reason.MALFORMED, _describe(error), body, headers, topic, ids=_salvage_ids(body)
            )
        ids = (envelope.id[:MAX_ID_LENGTH], envelope.type[:MAX_TYPE_LENGTH])
        if len(envelope.id) > MAX_ID_LENGTH or len(envelope.type) > MAX_TYPE_LENGTH:
            problem = (
                f"message id or type longer than the inbox holds "
                f"({MAX_ID_LENGTH} and {MAX_TYPE_LENGTH} characters)"
            )
            return await self._give_up(Reason.MALFORMED, problem, body, headers, topic, ids=ids)
        try:
            message = self.registry.load(envelope)
        except UnknownMessageType as error:
            return await self._give_up(
                Reason.UNKNOWN_TYPE, str(error), body, headers, topic, ids=ids
            )
        except InvalidMessage as error:
            return await self._give_up(Reason.INVALID, str(error), body, headers, topic, ids=ids)
        except MessageError as error:
            return await self._give_up(Reason.MALFORMED, str(error), body, headers, topic, ids=ids)
        handler = self._handlers.get(type(message))
        if handler is None:
            log.warning("consumer %s: no handler for %s, ignored", self.name, envelope.type)
            return Outcome.IGNORED
        return _Ready(handler, message, envelope, body, headers, topic)

    # -- internals ---------------------------------------------------------------

    async def _apply_batch(self, batch: Sequence[_Ready]) -> list[Outcome | Exception]:
        """One outcome (or the exception that escaped) per message, in order."""
        ahead = await self._ahead(batch)
        if not ahead:
            return await self._apply_in_batch(batch)
        outcomes: dict[int, Outcome | Exception] = {}
        for index, found in ahead.items():
            try:
                outcomes[index] = await self._out_of_order(batch[index], found, accept_gap=False)
            except Exception as error:
                outcomes[index] = error
        rest = [index for index in range(len(batch)) if index not in ahead]
        applied = await self._apply_in_batch([batch[index] for index in rest])
        outcomes.update(zip(rest, applied, strict=True))
        return [outcomes[index] for index in range(len(batch))]

    async def _ahead(self, batch: Sequence[_Ready]) -> dict[int, OutOfOrder]:
        """The members of ``batch`` that are ahead of their predecessor, by index.

        One read of the positions instead of a rolled-back transaction per held-back
        event: after a crash most deliveries are ahead for a while. It only spares
        work: what it lets through is checked again, exactly, where it commits.
        """
        keys = [(index, await self._order_key(ready.envelope)) for index, ready in enumerate(batch)]
        ordered = [(index, key) for index, key in keys if key is not None]
        if not ordered:
            return {}
        try:
            async with self.database.read() as connection:
                rows = await connection.execute(
                    select(
                        inbox_positions.c.aggregate_type,
                        inbox_positions.c.aggregate_id,
                        inbox_positions.c.version,
                    ).where(
                        inbox_positions.c.consumer == self.name,
                        inbox_positions.c.aggregate_id.in_(
                            {key.aggregate_id for _, key in ordered}
                        ),
                    )
                )
                last = {(str(row[0]), str(row[1])): int(row[2]) for row in rows}
        except StorageError:
            return {}  # the transaction that applies them will tell
        ahead: dict[int, OutOfOrder] = {}
        for index, key in ordered:
            aggregate = (key.aggregate_type, key.aggregate_id)
            known = last.get(aggregate)
            if (known is None and key.version > FIRST_VERSION) or (
                known is not None and key.version > known + 1
            ):
                ahead[index] = OutOfOrder(key, Position.AHEAD, known)
            elif known is None or key.version > known:
                last[aggregate] = key.version  # its successor in this batch may follow it
        return ahead

    async def _apply_in_batch(self, batch: Sequence[_Ready]) -> list[Outcome | Exception]:
        if not batch:
            return []
        if len(batch) > 1:
            try:
                return list(await self._apply_together(batch))
            except Exception as error:
                log.info(
                    "consumer %s: a batch of %d failed (%r), applying its messages one by one",
                    self.name,
                    len(batch),
                    error,
                )
        # Concurrently, as they were delivered: no two share an ordering key.
        results = await asyncio.gather(
            *(self._apply_with_retries(ready) for ready in batch), return_exceptions=True
        )
        outcomes: list[Outcome | Exception] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            outcomes.append(result)
        return outcomes

    async def _apply_together(self, batch: Sequence[_Ready]) -> list[Outcome]:
        """Apply all of ``batch`` in one transaction; raise, rolled back, on any failure."""
        committed = False

        def mark_committed() -> None:
            nonlocal committed
            committed = True

        applied_at = utcnow()
        keys = [await self._order_key(ready.envelope) for ready in batch]
        try:
            async with unit_of_work(self.database) as uow:
                uow.after_commit(mark_committed)
                # The claims of :func:`~tidings.inbox.records.record`, in one statement.
                await uow.execute(
                    insert(inbox),
                    [
                        {
                            "consumer": self.name,
                            "message_id": ready.envelope.id,
                            "message_type": ready.envelope.type,
                            "committed_at": ready.envelope.time,
                            "applied_at": applied_at,
                        }
                        for ready in batch
                    ],
                )
                for ready, key in zip(batch, keys, strict=True):
                    if key is not None:
                        await advance(uow, self.name, key)
                    with caused_by(ready.envelope):
                        await ready.handler(uow, ready.message, ready.envelope)
        except Exception:
            if not committed:
                raise
            log.exception("consumer %s: after-commit callback failed", self.name)
        for ready in batch:
            self._count_applied(ready.envelope)
        return [Outcome.APPLIED] * len(batch)

    async def _order_key(self, envelope: Envelope) -> OrderKey | None:
        """The event's order key if this consumer keeps order for it, else None."""
        if not self.keep_order:
            return None
        key = order_key(envelope)
        if key is None:
            return None
        if self._has_positions is None:
            self._has_positions = await keeps_positions(self.database)
            if not self._has_positions:
                log.warning(
                    "consumer %s: %s has no inbox_positions table, so events are applied "
                    "without per-aggregate order; add tidings.inbox.ops.create_inbox_positions() "
                    "to the service's migrations",
                    self.name,
                    self.database.describe,
                )
        return key if self._has_positions else None

    async def _apply_with_retries(self, ready: _Ready, *, accept_gap: bool = False) -> Outcome:
        handler, message, envelope = ready.handler, ready.message, ready.envelope
        body, headers, topic = ready.body, ready.headers, ready.topic
        ids = (envelope.id, envelope.type)
        policy = self.retry
        last_error: Exception | None = None
        for attempt in range(1, policy.max_attempts + 1):
            try:
                outcome = await self._apply(handler, message, envelope, accept_gap=accept_gap)
            except OutOfOrder as found:
                return await self._out_of_order(ready, found, accept_gap=accept_gap)
            except MessageError as error:
                return await self._give_up(
                    Reason.REJECTED,
                    _describe(error),
                    body,
                    headers,
                    topic,
                    attempts=attempt,
                    ids=ids,
                )
            except Exception as error:
                last_error = error
                log.warning(
                    "consumer %s: %s %s failed (attempt %d of %d): %r",
                    self.name,
                    envelope.type,
                    envelope.id,
                    attempt,
                    policy.max_attempts,
                    error,
                )
                if attempt < policy.max_attempts:
                    metrics.RETRIES.labels(self.name, envelope.type).inc()
                    await self._sleep(policy.delay(attempt))
                continue
            return outcome
        assert last_error is not None
        if isinstance(last_error, _INFRASTRUCTURE_ERRORS):
            return self._defer(last_error)
        return await self._give_up(
            Reason.FAILED,
            _describe(last_error),
            body,
            headers,
            topic,
            attempts=policy.max_attempts,
            ids=ids,
        )

    async def _out_of_order(self, ready: _Ready, found: OutOfOrder, *, accept_gap: bool) -> Outcome:
        """Hold back an event ahead of its predecessor; dead-letter one that came too late."""
        envelope = ready.envelope
        if found.position is Position.LATE:
            self._held.pop(envelope.id, None)
            return await self._give_up(
                Reason.OUT_OF_ORDER,
                f"{found}; applying it now would undo its successors",
                ready.body,
                ready.headers,
                ready.topic,
                ids=(envelope.id, envelope.type),
            )
        now = self._clock()
        first_held = self._held.setdefault(envelope.id, now)
        # Already past the bound and still ahead: a first event racing in another
        # process took the aggregate meanwhile; come again and look.
        if accept_gap or now - first_held < self.order_gap_timeout:
            self._forget_stale_holds(now)
            metrics.HELD_BACK.labels(self.name).inc()
            log.debug(
                "consumer %s: %s %s held back: %s", self.name, envelope.type, envelope.id, found
            )
            return Outcome.HELD
        # The predecessor did not come within the bound: apply past the gap, visibly.
        outcome = await self._apply_with_retries(ready, accept_gap=True)
        if outcome is Outcome.APPLIED:
            metrics.ORDER_GAPS.labels(self.name).inc()
            log.warning(
                "consumer %s: applied %s %s past a gap after %.0f s: %s",
                self.name,
                envelope.type,
                envelope.id,
                now - first_held,
                found,
            )
        return outcome

    def _forget_stale_holds(self, now: float) -> None:
        # Another process may have applied what this one held: its entry would stay.
        if len(self._held) > _HELD_MEMORY:
            horizon = now - 2 * self.order_gap_timeout
            self._held = {key: at for key, at in self._held.items() if at >= horizon}

    async def _apply(
        self,
        handler: MessageHandler[Any],
        message: Message,
        envelope: Envelope,
        *,
        accept_gap: bool = False,
    ) -> Outcome:
        committed = False

        def mark_committed() -> None:
            nonlocal committed
            committed = True

        committed_at = envelope.time
        key = await self._order_key(envelope)
        try:
            async with unit_of_work(self.database) as uow:
                # First, so that our callback runs before any the handler registers.
                uow.after_commit(mark_committed)
                try:
                    await record(
                        uow,
                        consumer=self.name,
                        message_id=envelope.id,
                        message_type=envelope.type,
                        committed_at=committed_at,
                    )
                except IntegrityError as error:
                    raise _Duplicate from error
                if key is not None:
                    await advance(uow, self.name, key, accept_gap=accept_gap)
                # What the handler publishes follows this message (same flow, caused by it).
                with caused_by(envelope):
                    await handler(uow, message, envelope)
        except _Duplicate:
            metrics.DUPLICATES_SKIPPED.labels(self.name, envelope.type).inc()
            log.info("consumer %s: %s %s already applied", self.name, envelope.type, envelope.id)
            return Outcome.DUPLICATE
        except Exception:
            if not committed:
                raise
            # The effect committed; only an after-commit callback failed. Retrying
            # would find the inbox row, so report what happened instead.
            log.exception("consumer %s: after-commit callback failed", self.name)
        self._count_applied(envelope)
        return Outcome.APPLIED

    def _count_applied(self, envelope: Envelope) -> None:
        self._held.pop(envelope.id, None)
        if envelope.aggregateid is not None:
            self._waiting.wake((envelope.aggregatetype or "", envelope.aggregateid))
        metrics.MESSAGES_CONSUMED.labels(self.name, envelope.type).inc()
        delay = (utcnow() - envelope.time).total_seconds()
        # Clock skew between hosts can make it negative; the histogram has no bucket for that.
        metrics.COMMIT_TO_EFFECT.labels(self.name, envelope.type).observe(max(0.0, delay))

    async def _give_up(
        self,
        reason: Reason,
        error: str,
        body: bytes,
        headers: dict[str, str],
        topic: str | None,
        *,
        attempts: int = 0,
        ids: tuple[str | None, str | None] = (None, None),
    ) -> Outcome:
        message_id, message_type = ids
        try:
            dead_letter_id = await store_dead_letter(
                self.database,
                consumer=self.name,
                reason=reason,
                error=error,
                body=body,
                headers=headers,
                attempts=attempts,
                message_id=message_id,
                message_type=message_type,
                topic=topic,
            )
        except StorageError as failure:
            return self._defer(failure)
        metrics.DEAD_LETTERS.labels(self.name, reason.value).inc()
        log.error(
            "consumer %s: dead-lettered %s (%s) as %s: %s",
            self.name,
            message_id or "a message without id",
            reason.value,
            dead_letter_id,
            error,
        )
        return Outcome.DEAD_LETTERED

    def _defer(self, error: Exception) -> Outcome:
        metrics.DEFERRED.labels(self.name).inc()
        log.warning("consumer %s: database unavailable, handing back: %r", self.name, error)
        return Outcome.DEFERRED


def hold_delay(attempt: int) -> float:
    """Seconds before an event held back for its predecessor comes again: short at
    first (the predecessor is usually a moment away), doubling to :data:`HOLD_DELAY_MAX`."""
    return float(min(0.05 * 2 ** min(max(attempt - 1, 0), 10), HOLD_DELAY_MAX))


def _salvage_ids(body: bytes) -> tuple[str | None, str | None]:
    """The id and type of a malformed message, if it has them, so operators can find it."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return (None, None)
    if not isinstance(event, dict):
        return (None, None)
    found = [event.get(attribute) for attribute in ("id", "type")]
    message_id, message_type = (
        value[:MAX_ID_LENGTH] if isinstance(value, str) and value else None for value in found
    )
    return (message_id, message_type)


def _describe(error: BaseException) -> str:
    """The error's type and message, then its traceback, for whoever repairs it."""
    summary = f"{type(error).__name__}: {error}"
    trace = "".join(traceback.format_exception(error)).strip()
    return f"{summary}\n\n{trace}"
