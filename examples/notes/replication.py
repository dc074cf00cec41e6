"""Propagating profile changes from the user service to the notes service.

The user service writes each profile change and its ``ProfileChanged`` event in
one unit of work (:mod:`examples.notes.user.publishing`); its relay publishes the
committed outbox rows to the broker; the notes service's consumer applies them
through its inbox to the ``authors`` replica (:mod:`examples.notes.notes.authors`).

:class:`Replication` runs both halves in one process (the embedded mode, on the
in-process broker); in the real mode each half runs in its own service process.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from examples.notes.notes.authors import Author, authors_consumer, get_author
from tidings.brokers.base import Broker, Subscription
from tidings.inbox import Consumer
from tidings.outbox import Relay
from tidings.storage.database import Database


class Replication:
    """``async with Replication(user_db, notes_db, broker):`` relays and consumes until exit.

    The consumer subscribes before the relay starts, so its queue exists before the
    first event is published (a topic nobody is bound to drops its messages).
    The relay polls every ``poll_interval`` besides waking on NOTIFY, so a missed
    wake-up costs one interval, never a stall.
    """

    def __init__(
        self,
        user_db: Database,
        notes_db: Database,
        broker: Broker,
        *,
        poll_interval: float = 0.05,
    ) -> None:
        self.broker = broker
        self.consumer: Consumer = authors_consumer(notes_db)
        self.relay = Relay(user_db, broker, poll_interval=poll_interval)
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> Replication:
        self._subscription = await self.consumer.start(self.broker)
        try:
            await self.relay.__aenter__()
        except BaseException:
            await self._subscription.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.relay.stop()
        finally:
            if self._subscription is not None:
                await self._subscription.stop()


async def wait_for_author(
    notes_db: Database, user_id: str, version: int, *, timeout: float = 30.0
) -> Author:
    """The notes service's replica of ``user_id`` once it reached profile ``version``.

    Raises TimeoutError if it has not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        author = await get_author(notes_db, user_id)
        if author is not None and author.profile_version >= version:
            return author
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the notes service's author {user_id} did not reach profile version "
                f"{version} within {timeout}s (it is at {author})"
            )
        await asyncio.sleep(0.02)
