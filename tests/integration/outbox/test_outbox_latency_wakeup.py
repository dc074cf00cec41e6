"""Latency regressions on the servers: a commit wakes an idle relay promptly, through
LISTEN/NOTIFY when written by another process (PostgreSQL) and through the
in-process signal otherwise, even when it is the last, throttled commit of a burst.
The relays poll every 60 s, so only the wake-up path can pass these in time."""

from __future__ import annotations

import pytest
from outbox_server_support import Counted, registry

from tidings.outbox import Relay, add
from tidings.outbox import notify as outbox_notify
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import RecordingBroker, install_outbox, wait_until

PROMPTLY = 10.0
NEVER_POLLS = 60.0


async def commit_one(database: Database, n: int, aggregate: str = "a") -> str:
    async with unit_of_work(database) as uow:
        envelope = await add(
            uow, registry, Counted(n=n), aggregate_type="counter", aggregate_id=aggregate
        )
    return envelope.id


@pytest.mark.postgres
async def test_the_throttled_last_commit_of_a_burst_still_wakes_the_relay(
    make_database,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database: Database = await make_database("postgres", service="orders")
    await install_outbox(database)
    # The writer is another process as far as the relay can tell: no in-process
    # signal reaches it, only NOTIFYs. A long interval makes the throttling certain.
    monkeypatch.setattr(outbox_notify, "wake_local", lambda _database: False)
    monkeypatch.setattr(outbox_notify, "NOTIFY_INTERVAL", 1.0)
    broker = RecordingBroker()
    async with Relay(database, broker, poll_interval=NEVER_POLLS, linger=0):
        first = await commit_one(database, 0)  # its NOTIFY goes; the listener may lag
        await wait_until(lambda: broker.ids == [first], timeout=PROMPTLY, message="first row")
        outbox_notify.should_notify(database)  # as if a NOTIFY had just been sent
        last = await commit_one(database, 1)  # throttled: only a trailing NOTIFY can tell
        await wait_until(
            lambda: broker.ids == [first, last], timeout=PROMPTLY, message="the last commit"
        )


@pytest.mark.postgres
async def test_a_notify_from_another_connection_wakes_the_relay(
    make_database,  # type: ignore[no-untyped-def]
) -> None:
    database: Database = await make_database("postgres", service="orders")
    await install_outbox(database)
    # A second Database object on its own pool and URL key: like another process.
    other = Database(
        "orders", database.url.update_query_dict({"prepared_statement_cache_size": "99"})
    )
    broker = RecordingBroker()
    try:
        async with Relay(database, broker, poll_interval=NEVER_POLLS, linger=0):
            first = await commit_one(other, 0)
            await wait_until(lambda: broker.ids == [first], timeout=PROMPTLY, message="first")
            outbox_notify.should_notify(other)
            last = await commit_one(other, 1)
            await wait_until(
                lambda: broker.ids == [first, last], timeout=PROMPTLY, message="the last commit"
            )
    finally:
        await other.close()


async def test_in_process_commits_wake_a_relay_without_listen(server_outbox_db: Database) -> None:
    broker = RecordingBroker(confirm_delay=0.3)
    async with Relay(
        server_outbox_db, broker, poll_interval=NEVER_POLLS, linger=0, listen=False, window=2
    ):
        first = await commit_one(server_outbox_db, 0, "x")
        await wait_until(lambda: broker.ids == [first], timeout=PROMPTLY, message="first row")
        # The same aggregate while its first row awaits the confirm: the worker that
        # claims it must leave it, and be woken when the first row's marks commit.
        second = await commit_one(server_outbox_db, 1, "x")
        third = await commit_one(server_outbox_db, 2, "y")
        await wait_until(
            lambda: set(broker.ids) == {first, second, third},
            timeout=PROMPTLY,
            message="rows committed while a worker was busy",
        )
        assert broker.ids.index(first) < broker.ids.index(second)
