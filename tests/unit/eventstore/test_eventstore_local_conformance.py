"""The conformance suite on the stores that need no server: memory and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tidings.eventstore import schema
from tidings.eventstore.base import EventStore
from tidings.eventstore.memory import MemoryEventStore
from tidings.eventstore.sqlite import SQLiteEventStore
from tidings.storage.capabilities import Backend
from tidings.testing.databases import temporary_database
from tidings.testing.eventstore import DatabaseEventStoreTestCase, EventStoreTestCase


class TestMemoryEventStore(EventStoreTestCase):
    @asynccontextmanager
    async def create_store(self) -> AsyncIterator[EventStore]:
        yield MemoryEventStore()


class TestSQLiteEventStore(DatabaseEventStoreTestCase):
    concurrent_writers = False

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    @asynccontextmanager
    async def create_store(self) -> AsyncIterator[EventStore]:
        async with temporary_database(Backend.SQLITE, folder=self.folder) as database:
            await schema.install(database)
            yield SQLiteEventStore(database)
