"""Where a consumer keeps deliveries that arrived ahead of their predecessor.

Handing such a delivery straight back to the broker costs a round trip per try,
and after a crash the broker returns the predecessors in no useful order, so
an aggregate would advance about one version per round trip. Instead the
consumer parks the delivery here, unsettled (the adapter keeps it alive), and
resumes it as soon as this process applies an event of the same aggregate, the
parked ones in version order; so a run of held-back events follows its
predecessor at once. A parked delivery is also looked at again every
``patience`` seconds, for a predecessor applied elsewhere (a competing process).
The consumer parks at most half its prefetch; beyond that a held-back delivery
goes back to the broker with a short delay, so the free slots can still bring
the predecessors the parked ones wait for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("tidings.inbox")

#: ``resume(timed_out)``: try the parked delivery again.
Resume = Callable[[bool], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class _Waiter:
    version: int
    resume: Resume
    timer: asyncio.TimerHandle | None = None


class WaitingRoom:
    """Parked deliveries by aggregate; see the module docstring."""

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self._waiting: dict[Hashable, list[_Waiter]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._waiting.values())

    def park(self, aggregate: Hashable, version: int, resume: Resume) -> None:
        waiter = _Waiter(version, resume)
        waiter.timer = asyncio.get_running_loop().call_later(
            self.patience, self._time_out, aggregate, waiter
        )
        self._waiting.setdefault(aggregate, []).append(waiter)

    def wake(self, aggregate: Hashable) -> None:
        """An event of ``aggregate`` was applied: resume its parked deliveries, oldest first."""
        waiters = self._waiting.pop(aggregate, None)
        if not waiters:
            return
        for waiter in waiters:
            if waiter.timer is not None:
                waiter.timer.cancel()
        waiters.sort(key=lambda waiter: waiter.version)
        self._spawn(self._resume_in_order(waiters))

    def _time_out(self, aggregate: Hashable, waiter: _Waiter) -> None:
        waiters = self._waiting.get(aggregate)
        if waiters is None or waiter not in waiters:
            return
        waiters.remove(waiter)
        if not waiters:
            del self._waiting[aggregate]
        self._spawn(waiter.resume(True))

    async def _resume_in_order(self, waiters: list[_Waiter]) -> None:
        # One after another: each applied one lets the next (its successor) in.
        for waiter in waiters:
            await waiter.resume(False)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("resuming a parked delivery failed", exc_info=task.exception())
