"""Pick the event store adapter for a database."""

from __future__ import annotations

from tidings.eventstore.base import EventStore
from tidings.eventstore.mariadb import MariaDBEventStore
from tidings.eventstore.postgres import PostgresEventStore
from tidings.eventstore.sqlite import SQLiteEventStore
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database

_ADAPTERS: dict[Backend, type[PostgresEventStore | MariaDBEventStore | SQLiteEventStore]] = {
    Backend.POSTGRESQL: PostgresEventStore,
    Backend.MARIADB: MariaDBEventStore,
    Backend.SQLITE: SQLiteEventStore,
}


def event_store_for(database: Database) -> EventStore:
    """The event store on ``database``'s backend (its tables come from
    :func:`tidings.eventstore.schema.create_event_store` in the service's migrations)."""
    return _ADAPTERS[database.backend](database)
