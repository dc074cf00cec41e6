"""Read-your-writes: wait, bounded, until a projection has applied a given position.

A command returns the position it wrote (``AppendResult.last_position``); the
query that follows passes it here, so the user sees their own change at once
while every other reader stays eventually consistent and never waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tidings.projections.checkpoints import load_checkpoint
from tidings.storage.database import Database

T = TypeVar("T")


async def wait_for_position(
    database: Database,
    projection_name: str,
    position: int,
    timeout: float = 5.0,
    *,
    poll_interval: float = 0.01,
    max_poll_interval: float = 0.1,
) -> bool:
    """True once the checkpoint of ``projection_name`` is at ``position`` or beyond;
    False if ``timeout`` seconds pass first. Polls from 10 ms, backing off to 100 ms."""
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        checkpoint = await load_checkpoint(database, projection_name)
        if checkpoint is not None and checkpoint.position >= position:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(interval, remaining))
        interval = min(interval * 2, max_poll_interval)


class StaleRead(TimeoutError):
    """The projection did not reach the asked position within the timeout."""

    def __init__(self, projection: str, position: int, timeout: float) -> None:
        self.projection = projection
        self.position = position
        super().__init__(
            f"projection {projection} did not reach position {position} within {timeout}s"
        )


async def query_at(
    database: Database,
    projection_name: str,
    query: Callable[[], Awaitable[T]],
    *,
    at_least: int | None,
    timeout: float = 5.0,
    strict: bool = False,
) -> tuple[T, bool]:
    """Run ``query`` once the projection reached ``at_least`` (if given).

    Returns the result and whether it is fresh (the position was reached). With
    ``strict`` a stale result raises :class:`StaleRead` instead.
    """
    fresh = True
    if at_least is not None:
        fresh = await wait_for_position(database, projection_name, at_least, timeout)
        if not fresh and strict:
            raise StaleRead(projection_name, at_least, timeout)
    return await query(), fresh
