"""The conformance suite on PostgreSQL and MariaDB, with real concurrent sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tidings.eventstore import schema
from tidings.eventstore.base import EventStore
from tidings.eventstore.mariadb import MariaDBEventStore
from tidings.eventstore.postgres import PostgresEventStore
from tidings.storage.capabilities import Backend
from tidings.testing.databases import temporary_database
from tidings.testing.eventstore import DatabaseEventStoreTestCase


@pytest.mark.postgres
class TestPostgresEventStore(DatabaseEventStoreTestCase):
    @asynccontextmanager
    async def create_store(self) -> AsyncIterator[EventStore]:
        async with temporary_database(Backend.POSTGRESQL) as database:
            await schema.install(database)
            yield PostgresEventStore(database)


@pytest.mark.mariadb
class TestMariaDBEventStore(DatabaseEventStoreTestCase):
    @asynccontextmanager
    async def create_store(self) -> AsyncIterator[EventStore]:
        async with temporary_database(Backend.MARIADB) as database:
            await schema.install(database)
            yield MariaDBEventStore(database, hold_timeout=1)

    def open_reader(self, store: EventStore) -> EventStore:
        assert isinstance(store, MariaDBEventStore)
        return MariaDBEventStore(store.database, hold_timeout=1)
