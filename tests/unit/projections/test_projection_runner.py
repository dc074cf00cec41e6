"""The runner on SQLite with a list-backed store: batches, crash safety, live following."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from tidings.errors import OperationalError
from tidings.eventstore.base import RecordedEvent
from tidings.projections import ProjectionRunner, Status, load_checkpoint, wait_for_position
from tidings.storage.database import Database
from tidings.testing.projections import (
    ListEventStore,
    append_added,
    create_tables,
    read_tallies,
    tallies,
    tally_projection,
)


@pytest.fixture
async def db(make_database) -> Database:  # type: ignore[no-untyped-def]
    database: Database = await make_database("sqlite")
    await create_tables(database, tallies)
    return database


async def test_catch_up_applies_every_event_once_in_batches(db: Database) -> None:
    store = ListEventStore()
    for index in range(12):
        await append_added(store, f"s{index % 3}", [1] * 100)
    runner = ProjectionRunner(db, store, tally_projection(), batch_size=500)

    applied = await runner.catch_up()

    assert applied == 1200
    assert await read_tallies(db) == {"s0": (400, 400), "s1": (400, 400), "s2": (400, 400)}
    checkpoint = await load_checkpoint(db, "tallies")
    assert checkpoint is not None
    assert checkpoint.position == 1200
    # 3 batches and one empty read: one transaction per batch, not per event.
    assert store.reads == 4


async def test_a_failing_handler_rolls_back_its_whole_batch_and_a_restart_resumes(
    db: Database,
) -> None:
    store = ListEventStore()
    await append_added(store, "a", [1] * 30)
    await append_added(store, "b", [2] * 30)
    failing = ProjectionRunner(db, store, tally_projection(fail_at=45), batch_size=20)

    with pytest.raises(RuntimeError, match="position 45"):
        await failing.catch_up()

    # Batches 1-20 and 21-40 committed; 41-60 rolled back with its checkpoint.
    checkpoint = await load_checkpoint(db, "tallies")
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.status) == (40, Status.FAILED)
    assert await read_tallies(db) == {"a": (30, 30), "b": (10, 20)}

    restarted = ProjectionRunner(db, store, tally_projection(), batch_size=20)
    await restarted.catch_up()

    assert await read_tallies(db) == {"a": (30, 30), "b": (30, 60)}
    checkpoint = await load_checkpoint(db, "tallies")
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.status) == (60, Status.LIVE)


async def test_two_runners_racing_never_apply_an_event_twice(db: Database) -> None:
    store = ListEventStore()
    for index in range(10):
        await append_added(store, f"s{index}", [1] * 50)
    first = ProjectionRunner(db, store, tally_projection(), batch_size=25)
    second = ProjectionRunner(db, store, tally_projection(), batch_size=25)

    await asyncio.gather(first.catch_up(), second.catch_up())

    assert await read_tallies(db) == {f"s{i}": (50, 50) for i in range(10)}


async def test_events_appended_after_the_start_reach_the_read_model(db: Database) -> None:
    store = ListEventStore()
    await append_added(store, "early", [5])
    runner = ProjectionRunner(db, store, tally_projection(), poll_interval=0.05)

    async with runner.running():
        assert await wait_for_position(db, "tallies", 1, timeout=5)
        result = await append_added(store, "late", [7, 8])
        runner.wake()
        assert await wait_for_position(db, "tallies", result.last_position, timeout=5)

    assert await read_tallies(db) == {"early": (1, 5), "late": (2, 15)}


async def test_stop_ends_a_following_runner(db: Database) -> None:
    runner = ProjectionRunner(db, ListEventStore(), tally_projection(), poll_interval=30)
    task = asyncio.create_task(runner.run())
    assert await wait_for_position(db, "tallies", 0, timeout=5)  # started: its row exists
    runner.stop()
    await asyncio.wait_for(task, 5)
    assert task.done()
    assert task.exception() is None


async def test_lag_gauges_show_positions_and_seconds_behind(db: Database) -> None:
    store = ListEventStore()
    await append_added(store, "x", [1] * 30)
    runner = ProjectionRunner(db, store, tally_projection("lagging"), batch_size=10)
    labels = {"service": db.service, "projection": "lagging"}

    await runner.step()
    behind = REGISTRY.get_sample_value("tidings_projection_lag_positions", labels)
    seconds = REGISTRY.get_sample_value("tidings_projection_lag_seconds", labels)
    assert behind == 20
    assert seconds is not None
    assert seconds > 0.5

    await runner.catch_up()
    assert REGISTRY.get_sample_value("tidings_projection_lag_positions", labels) == 0
    assert REGISTRY.get_sample_value("tidings_projection_lag_seconds", labels) == 0


class FlakyStore(ListEventStore):
    """Fails its first reads as an unreachable database would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("connection refused")
        return await super().read_all(after_position=after_position, limit=limit)


async def test_a_following_runner_waits_out_an_unreachable_database(db: Database) -> None:
    store = FlakyStore(failures=2)
    written = await append_added(store, "a", [1, 2])
    runner = ProjectionRunner(db, store, tally_projection(), poll_interval=0.01)
    async with runner.running():
        assert await wait_for_position(db, "tallies", written.last_position, timeout=5)
    assert store.failures == 0
    assert await read_tallies(db) == {"a": (2, 3)}


async def test_a_runner_stopped_before_it_began_ends_at_once(db: Database) -> None:
    runner = ProjectionRunner(db, ListEventStore(), tally_projection(), poll_interval=30)
    async with runner.running() as task:
        pass
    assert task.done()
