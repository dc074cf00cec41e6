"""The relay: publishes a service's committed outbox rows to the broker.

Per batch, in one database transaction: claim the oldest unpublished rows, drop
those that must wait for an earlier row of their aggregate, publish the rest with
``broker.publish`` (which returns only once the broker confirmed every message),
then mark them published in one UPDATE and commit. A crash or error anywhere
before the commit leaves the rows unpublished, and they are published again:
at-least-once, never lost; consumers deduplicate by message id (the inbox).

Several workers share the work: each claims with ``FOR UPDATE SKIP LOCKED``
(capability ``skip_locked``) and keeps its row locks until its marks commit, so in
normal operation no row is published twice. ``window`` workers run in one relay
(batches in flight at once); relays in other processes are just more workers.
On SQLite (no row locks) a batch is claimed and marked in two short transactions
around the publish, and the relays of one process take turns: batches go one at
a time, and writers never wait for the broker. Run one relay process per SQLite
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
import weakref
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.brokers.base import Broker
from tidings.outbox import claim as sql
from tidings.outbox.backoff import Backoff
from tidings.outbox.metrics import outbox_metrics
from tidings.outbox.notify import PostgresListener, unwatch_local, watch_local
from tidings.outbox.status import outbox_status
from tidings.storage.database import Database
from tidings.storage.types import utcnow

logger = logging.getLogger(__name__)

_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _turn(database: Database) -> asyncio.Lock:
    """The lock relays of this process (and event loop) share for one SQLite database."""
    locks = _turns.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(database.url.render_as_string(hide_password=True), asyncio.Lock())


class _Doorbell(asyncio.Event):
    """What the in-process signal sets: it wakes one worker of ``relay``, not all."""

    def __init__(self, relay: Relay) -> None:
        super().__init__()
        self._relay = relay

    def set(self) -> None:
        self._relay.wake()


class Relay:
    """Publishes ``database``'s outbox to ``broker`` until stopped.

    ``async with Relay(db, broker):`` runs it in the background; or await
    :meth:`run` and call :meth:`stop`; or drive it with :meth:`run_once`.
    The relay neither opens nor closes the database or the broker.

    Idle, it sleeps until woken (LISTEN/NOTIFY on PostgreSQL, an in-process
    signal from ``add``) or ``poll_interval`` passes. A wake-up goes to one idle
    worker, or, when every worker is busy, makes the next one to finish look again
    at once: a commit is never left waiting for a poll while a worker publishes.
    For ``linger`` seconds after writers in other processes were last heard from
    (a NOTIFY from another process; without LISTEN, any batch found), it polls every
    ``busy_poll_interval``, which picks up commits whose NOTIFY was throttled before
    their trailing NOTIFY arrives (see :mod:`tidings.outbox.notify`); commits of
    this process need no polling, the in-process signal announces each of them.
    A worker that had to leave a row for the worker holding its aggregate's
    predecessor is woken when that worker's batch commits.
    When the broker or the database fails it retries after a capped exponential
    backoff, forever, and resumes on its own.
    """

    def __init__(
        self,
        database: Database,
        broker: Broker,
        *,
        batch_size: int = 500,
        window: int = 2,
        poll_interval: float = 0.5,
        name: str | None = None,
        linger: float = 1.0,
        busy_poll_interval: float = 0.01,
        backoff: Backoff | None = None,
        status_interval: float = 5.0,
        listen: bool = True,
    ) -> None:
        if batch_size < 1 or window < 1:
            raise ValueError("batch_size and window must be at least 1")
        self.database = database
        self.broker = broker
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.linger = linger
        self.busy_poll_interval = busy_poll_interval
        self.name = name or f"{database.service}-relay-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._backoff_template = backoff or Backoff()
        self._status_interval = status_interval
        self._listen = listen and database.capabilities.listen_notify
        self._skip_locked = database.capabilities.skip_locked
        # Without row locks concurrent workers would only queue on the write lock.
        self.window = window if database.capabilities.row_locks else 1
        self._stop = asyncio.Event()
        self._wakeups: list[asyncio.Event] = []
        self._idle: list[asyncio.Event] = []
        self._pending = False
        self._recheck = False
        self._foreign_activity = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        """Rows this relay published (confirmed and marked) so far."""
        self.failures = 0
        """Batches that failed (broker or database) so far."""

    def __repr__(self) -> str:
        return f"Relay({self.name!r}, {self.database!r})"

    async def run_once(self) -> int:
        """Claim, publish and mark one batch; return the number of rows published."""
        rows, _deferred = await self._run_batch()
        return rows

    async def _run_batch(self) -> tuple[int, bool]:
        """One batch: rows published, and whether it left rows for another worker."""
        if self._skip_locked:
            rows, elapsed, deferred = await self._locked_batch()
        else:
            rows, elapsed = await self._single_writer_batch()
            deferred = False
        if rows and self._recheck:
            # Our marks are committed: rows another worker left for them may go now.
            self._recheck = False
            self.wake()
        if deferred:
            self._recheck = True
        if rows:
            metrics = outbox_metrics()
            metrics.batch_seconds.labels(self.database.service).observe(elapsed)
            metrics.published.labels(self.database.service).inc(rows)
            self.published += rows
        return rows, deferred

    async def _locked_batch(self) -> tuple[int, float, bool]:
        # The row locks live until the marks commit: that is what keeps other
        # workers off these rows while the broker confirms them.
        async with self.database.transaction() as connection:
            claimed = await sql.claim(connection, limit=self.batch_size, skip_locked=True)
            rows = await sql.in_aggregate_order(connection, claimed)
            deferred = len(rows) < len(claimed)
            if not rows:
                return 0, 0.0, deferred
            started = time.perf_counter()
            await self.broker.publish([row.outgoing() for row in rows])
            elapsed = time.perf_counter() - started
            await self._mark_published(connection, [row.seq for row in rows])
        return len(rows), elapsed, deferred

    async def _single_writer_batch(self) -> tuple[int, float]:
        # SQLite: holding its one write lock while the broker confirms would stall
        # every writer of the service (and deadlock an in-process broker whose
        # delivery writes to the same file). So claim and mark in two short
        # transactions, and let relays of this process take turns; one process
        # relays a SQLite database (the embedded mode runs in one process).
        async with _turn(self.database):
            async with self.database.transaction() as connection:
                rows = await sql.claim(connection, limit=self.batch_size, skip_locked=False)
            if not rows:
                return 0, 0.0
            started = time.perf_counter()
            await self.broker.publish([row.outgoing() for row in rows])
            elapsed = time.perf_counter() - started
            async with self.database.transaction() as connection:
                await self._mark_published(connection, [row.seq for row in rows])
        return len(rows), elapsed

    async def _mark_published(self, connection: AsyncConnection, seqs: list[int]) -> None:
        """Runs only after the broker confirmed the batch (a seam for fault tests)."""
        await sql.mark_published(connection, seqs, utcnow())

    def wake(self) -> None:
        """Ask one worker to look for rows now: an idle one, else the next to finish."""
        if self._idle:
            self._idle.pop().set()
        else:
            self._pending = True

    def _heard_foreign(self) -> None:
        self._foreign_activity = time.monotonic()

    async def run(self) -> None:
        """Publish until :meth:`stop` is called."""
        self._stop.clear()
        self._wakeups = [asyncio.Event() for _ in range(self.window)]
        doorbell = _Doorbell(self)
        watch_local(self.database, doorbell)
        listener = (
            PostgresListener(self.database, self.wake, on_foreign=self._heard_foreign)
            if self._listen
            else None
        )
        try:
            if listener is not None:
                listener.start()
            async with asyncio.TaskGroup() as group:
                for event in self._wakeups:
                    group.create_task(self._work(event))
                group.create_task(self._report_status())
        finally:
            if listener is not None:
                await listener.stop()
            unwatch_local(self.database, doorbell)

    async def stop(self) -> None:
        """Finish the batches in flight, then return; :meth:`run` returns too."""
        self._stop.set()
        for event in self._wakeups:
            event.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def _work(self, wakeup: asyncio.Event) -> None:
        backoff = Backoff(
            initial=self._backoff_template.initial,
            maximum=self._backoff_template.maximum,
            factor=self._backoff_template.factor,
            jitter=self._backoff_template.jitter,
        )
        while not self._stop.is_set():
            wakeup.clear()
            self._pending = False
            try:
                published, deferred = await self._run_batch()
            except Exception as error:
                self.failures += 1
                delay = backoff.next_delay()
                logger.warning(
                    "relay %s: batch failed, retrying in %.2fs: %s: %s",
                    self.name,
                    delay,
                    type(error).__name__,
                    error,
                )
                await self._sleep(delay)
                continue
            backoff.reset()
            if published >= self.batch_size or self._pending:
                continue
            if published and not self._listen:
                # No NOTIFY tells us about other processes' writers: finding rows is the sign.
                self._foreign_activity = time.monotonic()
            # A row left for another worker's batch: that worker wakes us when its marks
            # commit; the quick poll is the fallback should it fail instead.
            busy = deferred or time.monotonic() - self._foreign_activity < self.linger
            await self._wait(wakeup, self.busy_poll_interval if busy else self.poll_interval)

    async def _wait(self, wakeup: asyncio.Event, timeout: float) -> None:
        """Wait, as an idle worker, for a wake-up (or stop) at most ``timeout``."""
        self._idle.append(wakeup)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wakeup.wait()
        finally:
            if wakeup in self._idle:
                self._idle.remove(wakeup)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    async def _report_status(self) -> None:
        while not self._stop.is_set():
            try:
                await outbox_status(self.database)
            except Exception as error:
                logger.debug("relay %s: cannot read the backlog: %s", self.name, error)
            await self._sleep(self._status_interval)

    async def __aenter__(self) -> Relay:
        if self._task is not None:
            raise RuntimeError(f"{self!r} is already running")
        self._task = asyncio.create_task(self.run(), name=self.name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
