"""Gathering concurrent submissions into batches, run in the submitters' own tasks.

:class:`Batcher` lets at most ``max_concurrent`` batches run at once. A submitter
that finds a free slot *leads*: it takes its own item and whatever else is waiting
(up to ``max_batch``) and runs ``apply`` on them in its task. A submitter that
finds no free slot waits; when a batch ends, the oldest waiter is promoted to
lead the next one. So an idle consumer applies a lone item at once, and under
load batches grow with the queue, with no background task: cancelling the
submitters (a subscription stopping) cancels the batch they run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

_PROMOTED = object()
"""Set as a waiter's result: lead the next batch (a slot is reserved for it)."""


class Batcher(Generic[T, R]):
    """Runs ``apply`` on batches of submitted items; ``submit`` returns its item's result.

    ``apply`` gets the items in submission order (the leader's first) and returns
    one result per item, in the same order. If it raises, every item of the batch
    gets the exception; if the leader is cancelled, the others go back to wait.
    """

    def __init__(
        self,
        apply: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int,
        max_concurrent: int,
    ) -> None:
        self._apply = apply
        self._max_batch = max(max_batch, 1)
        self._max_concurrent = max(max_concurrent, 1)
        self._running = 0
        self._waiting: deque[tuple[T, asyncio.Future[object]]] = deque()

    async def submit(self, item: T) -> R:
        if self._running < self._max_concurrent:
            self._running += 1
        else:
            future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            self._waiting.append((item, future))
            try:
                result = await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled() and future.result() is _PROMOTED:
                    self._release()  # promoted, then cancelled before leading
                raise
            if result is not _PROMOTED:
                return cast(R, result)
        try:
            return await self._lead(item)
        finally:
            self._release()

    async def _lead(self, item: T) -> R:
        # One turn of the loop, so that deliveries ready at this moment join the batch.
        await asyncio.sleep(0)
        followers: list[tuple[T, asyncio.Future[object]]] = []
        while self._waiting and len(followers) + 1 < self._max_batch:
            entry = self._waiting.popleft()
            if not entry[1].done():
                followers.append(entry)
        try:
            results = await self._apply([item, *(entry[0] for entry in followers)])
        except asyncio.CancelledError:
            # Not their fault: the others wait for the next leader instead.
            self._waiting.extendleft(reversed([e for e in followers if not e[1].done()]))
            raise
        except BaseException as error:
            for _item, future in followers:
                if not future.done():
                    future.set_exception(error)
            raise
        for (_item, future), result in zip(followers, results[1:], strict=True):
            if not future.done():
                future.set_result(result)
        return results[0]

    def _release(self) -> None:
        self._running -= 1
        while self._waiting:
            _item, future = self._waiting.popleft()
            if not future.done():
                self._running += 1
                future.set_result(_PROMOTED)
                return
