"""Latency regressions on SQLite: commits reach an idle or busy relay through the
in-process signal, never by waiting for its (here 60 s) poll."""

from __future__ import annotations

import asyncio

from outbox_support import Counted, registry

from tidings.outbox import Relay, add
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import RecordingBroker, wait_until

# Far below the relay's poll interval, far above any scheduling hiccup.
PROMPTLY = 10.0
NEVER_POLLS = 60.0


async def commit_one(database: Database, n: int, aggregate: str = "a") -> str:
    async with unit_of_work(database) as uow:
        envelope = await add(
            uow, registry, Counted(n=n), aggregate_type="counter", aggregate_id=aggregate
        )
    return envelope.id


async def test_a_burst_of_concurrent_commits_reaches_an_idle_relay(outbox_db: Database) -> None:
    broker = RecordingBroker()
    async with Relay(outbox_db, broker, poll_interval=NEVER_POLLS, linger=0):
        first = await commit_one(outbox_db, 0)
        await wait_until(lambda: broker.ids == [first], timeout=PROMPTLY, message="first row")
        ids = await asyncio.gather(*(commit_one(outbox_db, n, f"k{n}") for n in range(1, 6)))
        await wait_until(
            lambda: sorted(broker.ids[1:]) == sorted(ids),
            timeout=PROMPTLY,
            message="the burst, the last commit included",
        )


async def test_a_commit_during_a_slow_publish_goes_right_after_it(outbox_db: Database) -> None:
    # The only worker is busy awaiting a confirm when the second row commits: its
    # wake-up must not be lost, or the row would wait for the poll.
    broker = RecordingBroker(confirm_delay=0.5)
    async with Relay(outbox_db, broker, poll_interval=NEVER_POLLS, linger=0):
        first = await commit_one(outbox_db, 0)
        await wait_until(lambda: broker.ids == [first], timeout=PROMPTLY, message="first row")
        second = await commit_one(outbox_db, 1)
        await wait_until(
            lambda: broker.ids == [first, second], timeout=PROMPTLY, message="second row"
        )
