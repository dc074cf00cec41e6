from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import pytest
from outbox_support import Counted, registry
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.brokers.base import OutgoingMessage
from tidings.errors import PublishNotConfirmed
from tidings.outbox import Backoff, Relay, add, outbox
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import RecordingBroker, install_outbox, wait_until

FAST = Backoff(initial=0.01, maximum=0.05)


async def add_events(database: Database, count: int, *, aggregates: int = 1) -> list[str]:
    ids = []
    for n in range(count):
        async with unit_of_work(database) as uow:
            envelope = await add(
                uow,
                registry,
                Counted(n=n),
                aggregate_type="counter",
                aggregate_id=f"c-{n % aggregates}",
                aggregate_version=n // aggregates + 1,
            )
        ids.append(envelope.id)
    return ids


async def unpublished(database: Database) -> int:
    async with database.connect() as connection:
        statement = select(func.count()).where(outbox.c.published_at.is_(None))
        return int((await connection.execute(statement)).scalar_one())


async def test_run_once_publishes_in_order_and_marks(outbox_db: Database) -> None:
    ids = await add_events(outbox_db, 5, aggregates=2)
    broker = RecordingBroker()
    relay = Relay(outbox_db, broker, batch_size=3)
    assert await relay.run_once() == 3
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    assert broker.ids == ids
    assert [len(batch) for batch in broker.batches] == [3, 2]
    assert await unpublished(outbox_db) == 0
    first = broker.published[0]
    assert first.topic == "test.Counted"
    assert first.ordering_key == "counter:c-0"
    assert json.loads(first.body)["id"] == first.message_id
    assert not any(name.startswith("ce-") for name in first.headers)
    assert "traceparent" in first.headers


async def test_rows_written_with_binary_mode_headers_are_published_without_them(
    outbox_db: Database,
) -> None:
    """Rows from versions that still wrote ce-* headers: the relay drops them."""
    [message_id] = await add_events(outbox_db, 1)
    legacy = {"ce-id": message_id, "ce-type": "test.Counted", "content-type": "x", "k": "v"}
    async with outbox_db.transaction() as connection:
        await connection.execute(update(outbox).values(headers=legacy))
    broker = RecordingBroker()
    assert await Relay(outbox_db, broker).run_once() == 1
    assert dict(broker.published[0].headers) == {"k": "v"}


async def test_unconfirmed_batch_stays_unpublished(outbox_db: Database) -> None:
    await add_events(outbox_db, 2)
    broker = RecordingBroker()
    broker.fail_next(1, PublishNotConfirmed)
    relay = Relay(outbox_db, broker)
    with pytest.raises(PublishNotConfirmed):
        await relay.run_once()
    assert await unpublished(outbox_db) == 2
    assert await relay.run_once() == 2


async def test_relay_backs_off_and_resumes_when_the_broker_is_down(outbox_db: Database) -> None:
    ids = await add_events(outbox_db, 10)
    broker = RecordingBroker()
    broker.fail_next(4)
    async with Relay(outbox_db, broker, backoff=FAST, poll_interval=0.05) as relay:
        await wait_until(lambda: len(broker.ids) == 10, message="all rows published")
    assert broker.failed_attempts == 4
    assert relay.failures == 4
    assert broker.ids == ids
    assert await unpublished(outbox_db) == 0


def test_backoff_is_exponential_and_capped() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.1
    jittery = Backoff(initial=1.0, maximum=10.0, jitter=0.2)
    assert 0.8 <= jittery.next_delay() <= 1.2


async def test_relay_resumes_when_the_database_comes_back(make_database) -> None:  # type: ignore[no-untyped-def]
    database: Database = await make_database("sqlite", service="orders")
    broker = RecordingBroker()
    async with Relay(database, broker, backoff=FAST, poll_interval=0.05) as relay:
        # No outbox table yet: every batch fails, the relay keeps trying.
        await wait_until(lambda: relay.failures >= 2, message="failing batches")
        await install_outbox(database)
        ids = await add_events(database, 3)
        await wait_until(lambda: broker.ids == ids, message="published after recovery")


class CrashAfterConfirm(Relay):
    """Dies once between the broker's confirm and the mark, as a killed relay would."""

    crashes = 0

    async def _mark_published(self, connection: AsyncConnection, seqs: list[int]) -> None:
        if self.crashes == 0:
            self.crashes += 1
            raise RuntimeError("killed between confirm and mark")
        await super()._mark_published(connection, seqs)


async def test_crash_between_confirm_and_mark_publishes_again(outbox_db: Database) -> None:
    ids = await add_events(outbox_db, 4)
    broker = RecordingBroker()
    relay = CrashAfterConfirm(outbox_db, broker)
    with pytest.raises(RuntimeError, match="killed"):
        await relay.run_once()
    assert await unpublished(outbox_db) == 4, "nothing marked without a finished batch"
    assert await Relay(outbox_db, broker).run_once() == 4
    assert broker.ids == ids + ids, "at least once: duplicates on the wire, nothing lost"
    assert await unpublished(outbox_db) == 0


async def test_broker_confirm_then_failing_commit_is_redelivered(outbox_db: Database) -> None:
    ids = await add_events(outbox_db, 2)

    async def lose_database(_batch: Sequence[OutgoingMessage]) -> None:
        raise ConnectionResetError("database connection lost after the confirm")

    broker = RecordingBroker(after_confirm=lose_database)
    with pytest.raises(Exception, match="connection lost"):
        await Relay(outbox_db, broker).run_once()
    broker.after_confirm = None
    assert await Relay(outbox_db, broker).run_once() == 2
    assert broker.ids == ids + ids


async def test_in_process_commit_wakes_an_idle_relay(outbox_db: Database) -> None:
    broker = RecordingBroker()
    async with Relay(outbox_db, broker, poll_interval=60, linger=0):
        await asyncio.sleep(0.05)  # let the relay go idle on its 60 s poll
        ids = await add_events(outbox_db, 1)
        await wait_until(lambda: broker.ids == ids, timeout=2, message="woken by the commit")


async def test_stop_returns_and_run_can_be_awaited(outbox_db: Database) -> None:
    broker = RecordingBroker()
    relay = Relay(outbox_db, broker, poll_interval=60)
    task = asyncio.create_task(relay.run())
    ids = await add_events(outbox_db, 2)
    await wait_until(lambda: broker.ids == ids)
    await relay.stop()
    await asyncio.wait_for(task, timeout=5)
    assert relay.published == 2


async def test_sqlite_relay_runs_one_batch_at_a_time(outbox_db: Database) -> None:
    assert Relay(outbox_db, RecordingBroker(), window=4).window == 1
    with pytest.raises(ValueError, match="at least 1"):
        Relay(outbox_db, RecordingBroker(), batch_size=0)


async def test_relays_of_one_process_take_turns_on_sqlite(outbox_db: Database) -> None:
    ids = await add_events(outbox_db, 60, aggregates=3)
    broker = RecordingBroker(confirm_delay=0.002, arrival_jitter=0.005)
    first = Relay(outbox_db, broker, batch_size=7, poll_interval=0.05)
    second = Relay(outbox_db, broker, batch_size=7, poll_interval=0.05)
    async with first, second:
        await wait_until(lambda: len(broker.ids) >= 60, message="all published")
    assert broker.ids == ids, "no duplicates, global order kept"
    assert first.published + second.published == 60


async def test_relay_reports_its_backlog_as_a_metric(make_database) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import REGISTRY

    service = f"svc{uuid.uuid4().hex[:8]}"
    database: Database = await make_database("sqlite", service=service)
    await install_outbox(database)
    await add_events(database, 3)
    broker = RecordingBroker()
    broker.fail_next(1_000_000)  # the broker stays down: the backlog stays
    labels = {"service": service}
    async with Relay(database, broker, backoff=FAST, status_interval=0.02) as relay:
        await wait_until(
            lambda: REGISTRY.get_sample_value("tidings_outbox_backlog", labels) == 3,
            message="backlog gauge",
        )
        with pytest.raises(RuntimeError, match="already running"):
            await relay.__aenter__()
    age = REGISTRY.get_sample_value("tidings_outbox_oldest_unpublished_age_seconds", labels)
    assert age is not None
    assert age >= 0
