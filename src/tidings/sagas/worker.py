"""The deadline worker: fires persisted saga timers (step deadlines, retry backoffs).

Timers live in ``saga_instances.deadline_at``, so they fire after a restart, in
whichever orchestrator process gets there first; several workers share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from tidings.errors import StorageError
from tidings.sagas.engine import SagaEngine

log = logging.getLogger("tidings.sagas")


class DeadlineWorker:
    """Runs :meth:`SagaEngine.fire_due` until stopped.

    ``async with DeadlineWorker(engine):`` runs it in the background. It polls
    every ``poll_interval`` seconds, sooner when the earliest timer is due
    sooner; a database failure is logged and retried after ``poll_interval``.
    """

    def __init__(self, engine: SagaEngine, *, poll_interval: float = 0.5, batch: int = 100) -> None:
        self.engine = engine
        self.poll_interval = poll_interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await self.engine.fire_due(self.batch)
                if fired >= self.batch:
                    continue
                pause = await self._pause()
            except StorageError as error:
                log.warning("saga deadline worker: %s; retrying", error)
                pause = self.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=pause)

    async def _pause(self) -> float:
        due = await self.engine.next_deadline()
        if due is None:
            return self.poll_interval
        until = due.timestamp() - self.engine.clock()
        return min(max(until, 0.005), self.poll_interval)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="saga-deadlines")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def __aenter__(self) -> DeadlineWorker:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
