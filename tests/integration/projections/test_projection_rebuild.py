"""Rebuild and swap on every backend, with readers and a live runner running throughout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, inspect, select

from tidings.projections import ProjectionRunner, load_checkpoint, rebuild, wait_for_position
from tidings.storage.database import Database
from tidings.testing.projections import (
    ListEventStore,
    append_added,
    create_tables,
    read_tallies,
    tallies,
    tally_projection,
)


async def _summary(database: Database) -> tuple[int, int]:
    async with database.connect() as connection:
        row = (
            await connection.execute(
                select(func.count(), func.coalesce(func.sum(tallies.c.events), 0))
            )
        ).one()
        return int(row[0]), int(row[1])


async def test_readers_never_see_an_empty_or_partial_model_during_a_rebuild(
    database: Database,
) -> None:
    await create_tables(database, tallies)
    store = ListEventStore()
    for index in range(20):
        await append_added(store, f"s{index}", [1] * 15)
    runner = ProjectionRunner(database, store, tally_projection(), batch_size=500)
    await runner.catch_up()
    before = await _summary(database)
    assert before == (20, 300)

    seen: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def read_repeatedly() -> None:
        while not done.is_set():
            seen.append(await _summary(database))
            await asyncio.sleep(0)

    reader = asyncio.create_task(read_repeatedly())
    try:
        result = await rebuild(database, store, tally_projection(), batch_size=50)
    finally:
        done.set()
        await reader
    after = await _summary(database)

    assert result.position == 300
    assert result.events == 300
    assert after == before
    assert len(seen) >= 2
    assert all(summary == before for summary in seen), set(seen)
    checkpoint = await load_checkpoint(database, "tallies")
    assert checkpoint is not None
    assert checkpoint.position == 300
    assert await load_checkpoint(database, "tallies__rebuild") is None
    async with database.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        indexes = await connection.run_sync(
            lambda sync: [i["name"] for i in inspect(sync).get_indexes("tallies")]
        )
    assert "tallies__rebuild" not in names
    assert "tallies__old" not in names
    assert "ix_tallies_total" in indexes


async def test_a_rebuild_beside_a_live_runner_swaps_in_without_losing_or_doubling(
    database: Database,
) -> None:
    await create_tables(database, tallies)
    store = ListEventStore()
    for index in range(10):
        await append_added(store, f"s{index}", [2] * 30)
    runner = ProjectionRunner(
        database, store, tally_projection(), batch_size=50, poll_interval=0.02
    )
    async with runner.running():
        assert await wait_for_position(database, "tallies", 300, timeout=10)
        more = asyncio.create_task(_append_while(store, runner))
        await rebuild(database, store, tally_projection(), batch_size=100)
        last = await more
        assert await wait_for_position(database, "tallies", last, timeout=10)

    expected: dict[str, tuple[int, int]] = {}
    for event in store.events:
        events, total = expected.get(event.stream_id, (0, 0))
        expected[event.stream_id] = (events + 1, total + int(event.data["amount"]))
    assert await read_tallies(database) == expected


async def _append_while(store: ListEventStore, runner: ProjectionRunner) -> int:
    last = 0
    for index in range(20):
        last = (await append_added(store, f"late{index % 4}", [3, 3])).last_position
        runner.wake()
        await asyncio.sleep(0.005)
    return last


@pytest.mark.parametrize("rounds", [2])
async def test_rebuilding_twice_keeps_index_names_free(database: Database, rounds: int) -> None:
    await create_tables(database, tallies)
    store = ListEventStore()
    await append_added(store, "a", [1, 2, 3])
    for _ in range(rounds):
        await rebuild(database, store, tally_projection())
    assert await read_tallies(database) == {"a": (3, 6)}


async def test_an_interrupted_swap_is_finished_or_undone(database: Database) -> None:
    from sqlalchemy import update

    from tidings.projections.checkpoints import Status, projection_checkpoints
    from tidings.projections.definition import shadow_tables
    from tidings.projections.rebuild import recover

    await create_tables(database, tallies)
    store = ListEventStore()
    await append_added(store, "a", [1] * 10)
    await ProjectionRunner(database, store, tally_projection()).catch_up()

    # Died after the rename: the live tables hold the shadow's state (position 10).
    async with database.transaction() as connection:
        await connection.execute(
            update(projection_checkpoints)
            .where(projection_checkpoints.c.name == "tallies")
            .values(position=6, status=Status.SWAPPING.value)
        )
        await connection.execute(
            projection_checkpoints.insert().values(
                name="tallies__rebuild", position=10, updated_at=_now(), status="rebuilding"
            )
        )
    assert await recover(database, tally_projection())
    checkpoint = await load_checkpoint(database, "tallies")
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.status) == (10, Status.LIVE)
    assert await load_checkpoint(database, "tallies__rebuild") is None

    # Died before the rename: the shadow tables are still there; just unfreeze.
    shadow = shadow_tables(tally_projection())["tallies"]
    async with database.transaction() as connection:
        await connection.run_sync(lambda sync: shadow.create(sync))
        await connection.execute(
            update(projection_checkpoints)
            .where(projection_checkpoints.c.name == "tallies")
            .values(status=Status.SWAPPING.value)
        )
    assert await recover(database, tally_projection())
    checkpoint = await load_checkpoint(database, "tallies")
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.status) == (10, Status.LIVE)
    assert not await recover(database, tally_projection())

    await append_added(store, "a", [1] * 5)
    await ProjectionRunner(database, store, tally_projection()).catch_up()
    assert await read_tallies(database) == {"a": (15, 15)}


def _now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)
