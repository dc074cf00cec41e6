"""The projection runner: catch up from the event store in batches, then follow live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from tidings.errors import InterfaceError, OperationalError
from tidings.eventstore.base import EventStore, RecordedEvent
from tidings.eventstore.diagnostics import events_behind
from tidings.projections.applier import BatchApplier, StaleCheckpoint
from tidings.projections.checkpoints import Status, ensure_checkpoint, load_checkpoint, set_status
from tidings.projections.definition import Projection, Publisher, live_tables
from tidings.projections.metrics import record_lag
from tidings.storage.database import Database

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class ProjectionRunner:
    """Keeps one projection's read model current in ``database``.

    Each batch (up to ``batch_size`` events) is one transaction holding the
    read-model rows and the checkpoint, so a crash between batches loses nothing
    and applies nothing twice. When the store has nothing new the runner sleeps
    ``poll_interval`` seconds or until :meth:`wake` is called (e.g. by whoever
    just appended). :meth:`stop` ends :meth:`run` after the current batch.
    """

    def __init__(
        self,
        database: Database,
        store: EventStore,
        projection: Projection,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.25,
        publisher: Publisher | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.database = database
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._applier = BatchApplier(
            projection,
            projection.name,
            live_tables(projection),
            replaying=False,
            publisher=publisher,
        )
        self._position: int | None = None
        self._prefetch: tuple[int, asyncio.Task[list[RecordedEvent]]] | None = None
        self._next_head_check = 0.0
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def position(self) -> int | None:
        """The checkpoint this runner last wrote or read (None before it started)."""
        return self._position

    async def _load_position(self) -> int:
        await ensure_checkpoint(self.database, self.projection.name)
        checkpoint = await load_checkpoint(self.database, self.projection.name)
        self._position = checkpoint.position if checkpoint else 0
        return self._position

    async def step(self) -> int:
        """Apply at most one batch; the number of events read (0 when caught up)."""
        position = self._position if self._position is not None else await self._load_position()
        events = await self._read_after(position)
        if not events:
            self._record_lag(position, None, caught_up=True)
            return 0
        behind = len(events) == self.batch_size
        if behind and self._may_prefetch:
            # Read the next batch while this one is written: catch-up then runs at the
            # pace of the slower of the two instead of their sum.
            self._start_prefetch(events[-1].position)
        try:
            self._position = await self._applier.apply(self.database, events, position)
        except StaleCheckpoint:
            self._cancel_prefetch()
            # A rebuild swapped in, or another runner got there first: start from its checkpoint.
            if await self._load_position() == position:
                await self._sleep()  # frozen by a swap in progress
            return 0 if self._position == position else len(events)
        except BaseException:
            self._cancel_prefetch()
            raise
        if not behind:
            self._record_lag(self._position, None, caught_up=True)
        elif time.monotonic() >= self._next_head_check:
            # The head costs a query, so a runner far behind asks for it once a second.
            self._next_head_check = time.monotonic() + 1.0
            head = await self.store.head_position()
            behind_by = await events_behind(self.store, self._position, head)
            self._record_lag(self._position, events[-1], behind=behind_by)
        return len(events)

    @property
    def _may_prefetch(self) -> bool:
        # Without row locks (SQLite) a read waits for the write lock anyway.
        return self.database.capabilities.row_locks

    async def _read_after(self, position: int) -> list[RecordedEvent]:
        prefetched, self._prefetch = self._prefetch, None
        if prefetched is not None:
            after, task = prefetched
            if after == position:
                return await task
            task.cancel()
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await self.store.read_all(after_position=position, limit=self.batch_size)

    def _start_prefetch(self, after: int) -> None:
        self._cancel_prefetch()
        task = asyncio.create_task(self.store.read_all(after_position=after, limit=self.batch_size))
        self._prefetch = (after, task)

    def _cancel_prefetch(self) -> None:
        if self._prefetch is not None:
            task = self._prefetch[1]
            task.cancel()
            # Retrieve its outcome so an unread failure is not reported at collection.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._prefetch = None

    async def catch_up(self) -> int:
        """Apply batches until the store has nothing newer; the number of events applied."""
        total = 0
        try:
            while True:
                read = await self._step_or_fail()
                if read == 0:
                    break
                total += read
        finally:
            self._cancel_prefetch()
        return total

    async def catch_up_to(self, position: int, timeout: float = 30.0) -> None:
        """Apply batches until the checkpoint has reached ``position``.

        Unlike :meth:`catch_up` it waits for events the store still holds back (a
        lower position whose transaction has not ended yet); ``TimeoutError`` if
        ``timeout`` seconds pass first.
        """
        try:
            async with asyncio.timeout(timeout):
                while self._position is None or self._position < position:
                    if await self._step_or_fail() == 0:
                        await self._sleep()
        finally:
            self._cancel_prefetch()

    async def run(self) -> None:
        """Catch up, then follow live until :meth:`stop`.

        A handler's error is recorded in the checkpoint row (status ``failed``) and
        raised. A database that cannot be reached is waited for, backing off up to
        ``MAX_BACKOFF`` seconds: the batch rolled back, so nothing is lost.
        """
        failures = 0
        try:
            while not self._stopping:
                try:
                    read = await self._step_or_fail()
                except (OperationalError, InterfaceError):
                    failures += 1
                    log.warning("projection %s: database unavailable", self.projection.name)
                    await self._sleep(min(self.poll_interval * 2**failures, MAX_BACKOFF))
                    continue
                failures = 0
                if read == 0:
                    await self._sleep()
        finally:
            self._cancel_prefetch()

    async def _step_or_fail(self) -> int:
        try:
            return await self.step()
        except (StaleCheckpoint, OperationalError, InterfaceError):
            self._position = None
            raise
        except Exception as error:
            log.exception("projection %s failed", self.projection.name)
            with contextlib.suppress(Exception):
                async with self.database.transaction() as connection:
                    await set_status(
                        connection, self.projection.name, Status.FAILED, error=repr(error)
                    )
            self._position = None
            raise

    async def _sleep(self, seconds: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds or self.poll_interval)
        self._wake.clear()

    def wake(self) -> None:
        """Look for new events now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """End :meth:`run` after the current batch (also if it has not begun yet)."""
        self._stopping = True
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Task[None]]:
        """Run in a background task for the block; stop it (and surface its error) on exit."""
        self._stopping = False
        task = asyncio.create_task(self.run(), name=f"projection:{self.projection.name}")
        try:
            yield task
        finally:
            self.stop()
            await task

    def _record_lag(
        self,
        position: int,
        last: RecordedEvent | None,
        *,
        caught_up: bool = False,
        behind: int = 0,
    ) -> None:
        service = self.database.service
        if caught_up or last is None:
            record_lag(service, self.projection.name, checkpoint=position, behind=0, seconds=0)
            return
        # Seconds behind: how long ago the newest applied event was recorded.
        age = (datetime.now(UTC) - last.recorded_at).total_seconds()
        record_lag(
            service,
            self.projection.name,
            checkpoint=position,
            behind=behind,
            seconds=age if behind > 0 else 0.0,
        )
