"""An event store created before writers marked their slots gets the column by a
migration operation, and then serves appends and reads as a new one does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from tidings.eventstore import schema
from tidings.eventstore.base import NewEvent
from tidings.eventstore.mariadb import MariaDBEventStore
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.databases import temporary_database

pytestmark = pytest.mark.mariadb


async def _run(database: Database, operation: Callable[[], None]) -> None:
    """Run a migration operation outside any history, as ``schema.install`` does."""
    await schema._run_operations(database, operation)


async def test_an_older_event_store_gets_its_slot_marks() -> None:
    async with temporary_database(Backend.MARIADB) as database:
        await schema.install(database)
        async with database.transaction() as connection:
            await connection.execute(text("ALTER TABLE event_writers DROP COLUMN since"))
        await _run(database, schema.mark_writer_slots)
        await _run(database, schema.mark_writer_slots)  # again: nothing to do
        store = MariaDBEventStore(database)
        appended = await store.append("s-1", [NewEvent("Made", {})], expected_version=0)
        assert [e.position for e in await store.read_all()] == list(appended.positions)
        async with database.connect() as connection:
            marks = (
                await connection.execute(text("SELECT MAX(since) FROM event_writers"))
            ).scalar()
        assert marks == appended.positions[0]
