"""Projections on the real event store adapters (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tidings.eventstore.base import EventStore
from tidings.eventstore.factory import event_store_for
from tidings.eventstore.schema import install
from tidings.projections import (
    ProjectionRunner,
    Status,
    load_checkpoint,
    query_at,
    rebuild,
    wait_for_position,
)
from tidings.storage.database import Database
from tidings.testing.projections import (
    append_added,
    create_tables,
    read_tallies,
    tallies,
    tally_projection,
)


@pytest.fixture
async def store(database: Database) -> EventStore:
    await install(database)
    await create_tables(database, tallies)
    return event_store_for(database)


async def _expected(store: EventStore, upto: int | None = None) -> dict[str, tuple[int, int]]:
    expected: dict[str, tuple[int, int]] = {}
    for event in await store.read_all(after_position=0, limit=100_000):
        if upto is not None and event.position > upto:
            break
        events, total = expected.get(event.stream_id, (0, 0))
        expected[event.stream_id] = (events + 1, total + int(event.data["amount"]))
    return expected


async def test_a_crash_mid_batch_then_a_restart_applies_each_event_once(
    database: Database, store: EventStore
) -> None:
    await append_added(store, "a", [1] * 30)
    second = await append_added(store, "b", [2] * 30)
    failing_at = second.positions[14]  # the 45th event, inside the third batch of 20
    failing = ProjectionRunner(database, store, tally_projection(fail_at=failing_at), batch_size=20)

    with pytest.raises(RuntimeError):
        await failing.catch_up_to(second.last_position, timeout=20)

    # Whole batches before the failing one committed; the failing batch left no trace.
    checkpoint = await load_checkpoint(database, "tallies")
    assert checkpoint is not None
    assert checkpoint.status is Status.FAILED
    assert checkpoint.position < failing_at
    assert await read_tallies(database) == await _expected(store, upto=checkpoint.position)

    restarted = ProjectionRunner(database, store, tally_projection(), batch_size=20)
    await restarted.catch_up_to(second.last_position, timeout=20)

    assert await read_tallies(database) == {"a": (30, 30), "b": (30, 60)}
    checkpoint = await load_checkpoint(database, "tallies")
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.status) == (second.last_position, Status.LIVE)


async def test_catch_up_then_follow_live_and_read_your_writes(
    database: Database, store: EventStore
) -> None:
    for index in range(5):
        setup = await append_added(store, f"old{index}", [1] * 20)
    runner = ProjectionRunner(database, store, tally_projection(), poll_interval=0.05)
    async with runner.running():
        assert await wait_for_position(database, "tallies", setup.last_position, timeout=10)
        assert await read_tallies(database) == {f"old{i}": (20, 20) for i in range(5)}
        written = await append_added(store, "new", [5, 6])
        runner.wake()
        view, fresh = await query_at(
            database,
            "tallies",
            lambda: read_tallies(database),
            at_least=written.last_position,
            timeout=10,
        )
    assert fresh
    assert view["new"] == (2, 11)
    assert view == await _expected(store)

    later = await append_added(store, "unseen", [1])  # no runner now
    assert not await wait_for_position(database, "tallies", later.last_position, timeout=0.2)


async def test_rebuild_under_readers_writers_and_a_live_runner(
    database: Database, store: EventStore
) -> None:
    for index in range(15):
        setup = await append_added(store, f"s{index}", [1] * 40)
    runner = ProjectionRunner(database, store, tally_projection(), poll_interval=0.02)
    seen: list[int] = []
    done = asyncio.Event()

    async def read_repeatedly() -> None:
        while not done.is_set():
            async with database.connect() as connection:
                total = await connection.execute(
                    select(func.coalesce(func.sum(tallies.c.events), 0))
                )
                seen.append(int(total.scalar_one()))
            await asyncio.sleep(0)

    async def write_meanwhile() -> int:
        last = 0
        for index in range(10):
            last = (await append_added(store, f"late{index % 3}", [2])).last_position
            runner.wake()
            await asyncio.sleep(0.01)
        return last

    async with runner.running():
        assert await wait_for_position(database, "tallies", setup.last_position, 10)
        reader = asyncio.create_task(read_repeatedly())
        writer = asyncio.create_task(write_meanwhile())
        try:
            result = await rebuild(database, store, tally_projection(), batch_size=150)
        finally:
            last = await writer
            assert await wait_for_position(database, "tallies", last, timeout=10)
            done.set()
            await reader

    assert result.events >= 600
    assert seen
    assert min(seen) >= 600
    assert seen == sorted(seen)  # and never going back
    assert await read_tallies(database) == await _expected(store)
