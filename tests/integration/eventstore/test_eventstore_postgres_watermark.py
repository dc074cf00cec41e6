"""PostgreSQL specifics: positions from transaction ids, and which open transactions
hold readers back (this database's, not another database's on the same server)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tidings.eventstore import schema
from tidings.eventstore.base import NewEvent
from tidings.eventstore.diagnostics import held_back_by
from tidings.eventstore.postgres import PostgresEventStore
from tidings.storage.uow import unit_of_work
from tidings.testing.databases import MakeDatabase

pytestmark = pytest.mark.postgres


async def test_positions_carry_the_transaction_id(make_database: MakeDatabase) -> None:
    database = await make_database("postgres")
    await schema.install(database)
    store = PostgresEventStore(database)
    async with unit_of_work(database) as uow:
        first = await store.append("a", [NewEvent("A", {})] * 2, expected_version=0, uow=uow)
        second = await store.append("b", [NewEvent("B", {})], expected_version=0, uow=uow)
        xid = int((await uow.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one())
    # One transaction: consecutive positions in its own block of 2^20.
    assert [*first.positions, *second.positions] == [(xid << 20) + n for n in (1, 2, 3)]
    # A hand-written insert cannot choose its position: the trigger assigns it.
    async with database.transaction() as connection:
        await connection.execute(
            text(
                "INSERT INTO events (position, event_id, stream_id, stream_version, type, "
                "schema_version, data, metadata, recorded_at) VALUES (1, 'x', 'c', 1, 'C', 1, "
                "'{}', '{}', now())"
            )
        )
    assert (await store.read_stream("c"))[0].position > second.last_position


async def test_an_open_transaction_in_another_database_does_not_hold_readers_back(
    make_database: MakeDatabase,
) -> None:
    ours, theirs = await make_database("postgres"), await make_database("postgres", "other")
    await schema.install(ours)
    store = PostgresEventStore(ours)
    async with theirs.transaction() as elsewhere:
        # An open transaction with an id, in another database on the same server.
        await elsewhere.execute(text("SELECT pg_current_xact_id()"))
        appended = await store.append("a", [NewEvent("A", {})], expected_version=0)
        # Sessions in this database may hold readers back for a moment; the open
        # transaction elsewhere must not hold them back at all.
        deadline = asyncio.get_running_loop().time() + 10
        while await store.head_position() < appended.last_position:
            assert asyncio.get_running_loop().time() < deadline, "held back by another database"
            await asyncio.sleep(0.02)
        assert [e.position for e in await store.read_all()] == list(appended.positions)
        report = await held_back_by(store)
        assert report.held_events == 0


async def test_a_page_reads_only_its_own_events_whatever_the_statistics(
    make_database: MakeDatabase,
) -> None:
    """A store never analyzed (as after a bulk import): a page of 100 events from the
    start reads 100 rows from the index, not every later event and a sort."""
    from tidings.eventstore import postgres

    database = await make_database("postgres")
    await schema.install(database)
    store = PostgresEventStore(database)
    async with database.transaction() as connection:
        # The trigger assigns positions; no ANALYZE follows, as after an import.
        await connection.execute(
            text(
                "INSERT INTO events (event_id, stream_id, stream_version, type, "
                "schema_version, data, metadata, recorded_at) "
                "SELECT gen_random_uuid()::text, 's' || (g / 100), g % 100 + 1, 'A', 1, "
                "'{}', '{}', now() FROM generate_series(0, 49999) AS g"
            )
        )
    page_sql = postgres._READ_ALL.replace("$1", "0").replace("$2", "100")
    async with database.read() as connection:
        plan = "\n".join(
            str(row[0]) for row in await connection.execute(text("EXPLAIN ANALYZE " + page_sql))
        )
    assert "Index Scan using events_pkey" in plan, plan
    assert "Bitmap" not in plan, plan
    assert "Sort" not in plan, plan
    page = await store.read_all(after_position=0, limit=100)
    everything = await store.read_all(after_position=0, limit=1000)
    assert page == everything[:100]
