"""The event store's tables and the migration operations that create them.

``events`` is append-only at the database (triggers from
:mod:`tidings.storage.append_only`). ``snapshots`` holds aggregate snapshots (a
cache: it may be pruned or rebuilt). ``event_writers`` exists on MariaDB only: its
rows are the slots writers lock while they append (see :mod:`.mariadb`).

On PostgreSQL a row trigger assigns ``position`` from the writing transaction's
id (see :mod:`.postgres`), so no insert, not even a hand-written one, can take a
position a reader may already have passed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table
from sqlalchemy.engine import Connection

from tidings.migrations.access import RuntimeAccess, declare
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.storage.library import library_metadata
from tidings.storage.types import BigIntId, UTCDateTime

EVENTS = "events"
SNAPSHOTS = "snapshots"
EVENT_WRITERS = "event_writers"
STREAM_VERSION_INDEX = "ix_events_stream_version"
"""The unique index that makes two appends at one expected version collide."""

WRITER_SLOTS = 256
"""How many writer slots MariaDB gets; more concurrent writers than this share slots."""

events = Table(
    EVENTS,
    library_metadata,
    Column("position", BigIntId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("type", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index(STREAM_VERSION_INDEX, "stream_id", "stream_version", unique=True),
    Index("ix_events_event_id", "event_id", unique=True),
)

snapshots = Table(
    SNAPSHOTS,
    library_metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("stream_version", Integer, primary_key=True),
    Column("type", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("state", JSON, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

event_writers = declare(
    Table(
        EVENT_WRITERS,
        library_metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        # The first position the slot's current (or last) holder took: a reader that
        # cannot wait for a holder serves the events below it (see .mariadb).
        Column("since", BigInteger, nullable=False, server_default="0"),
    ),
    # Writers lock their slot and mark it; they never add or remove slots.
    RuntimeAccess.LOCK_ROWS,
)

_PG_POSITION_FUNCTION = """
CREATE OR REPLACE FUNCTION tidings_event_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The writing transaction's id, taken before the position: positions sort by it.
    xid bigint := pg_current_xact_id()::text::bigint;
    last bigint := coalesce(
        nullif(current_setting('tidings.event_position', true), ''), '0')::bigint;
BEGIN
    -- position = xid * 2^20 + n, n = 1, 2, ... within the transaction. The counter lives
    -- in a transaction-local setting, so it restarts with each transaction (and rolls
    -- back with a savepoint together with the rows that used it).
    IF last >> 20 <> xid THEN
        last := xid << 20;
    END IF;
    last := last + 1;
    IF last & 1048575 = 0 THEN
        RAISE EXCEPTION 'one transaction may append at most 1048575 events';
    END IF;
    PERFORM set_config('tidings.event_position', last::text, true);
    NEW.position := last;
    RETURN NEW;
END $$
"""


def postgres_statements() -> list[str]:
    """The PostgreSQL-only DDL: positions from transaction ids instead of a sequence."""
    return [
        f"ALTER TABLE {EVENTS} ALTER COLUMN position DROP DEFAULT",
        f"DROP SEQUENCE IF EXISTS {EVENTS}_position_seq",
        _PG_POSITION_FUNCTION,
        f"CREATE TRIGGER {EVENTS}_position BEFORE INSERT ON {EVENTS} "
        "FOR EACH ROW EXECUTE FUNCTION tidings_event_position()",
    ]


def create_event_store() -> None:
    """Migration operation: create ``events`` (append-only), ``snapshots`` and, on
    MariaDB, the writer slots."""
    from alembic import op

    from tidings.migrations.ops import create_library_table, current_backend

    backend = current_backend()
    create_library_table(events, is_append_only=True)
    create_library_table(snapshots)
    if backend is Backend.POSTGRESQL:
        for statement in postgres_statements():
            op.execute(statement)
    if backend is Backend.MARIADB:
        create_library_table(event_writers)
        op.bulk_insert(event_writers, [{"id": slot} for slot in range(WRITER_SLOTS)])


def mark_writer_slots() -> None:
    """Migration operation for event stores created before writers marked their slots:
    add ``event_writers.since`` on MariaDB (a no-op elsewhere, or when it is there)."""
    from alembic import op
    from sqlalchemy import inspect

    from tidings.migrations.ops import current_backend

    if current_backend() is not Backend.MARIADB:
        return
    columns = {column["name"] for column in inspect(op.get_bind()).get_columns(EVENT_WRITERS)}
    if "since" not in columns:
        op.add_column(EVENT_WRITERS, event_writers.c.since._copy())


def drop_event_store() -> None:
    """Migration operation: drop what :func:`create_event_store` made."""
    from alembic import op

    from tidings.migrations.ops import current_backend, drop_library_table

    backend = current_backend()
    if backend is Backend.MARIADB:
        drop_library_table(event_writers)
    if backend is Backend.POSTGRESQL:
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_position ON {EVENTS}")
    drop_library_table(snapshots)
    drop_library_table(events, is_append_only=True)
    if backend is Backend.POSTGRESQL:
        op.execute("DROP FUNCTION IF EXISTS tidings_event_position()")


async def install(database: Database) -> None:
    """Create the event store's tables outside a migration history (tests, benchmarks).

    Runs the same operations as :func:`create_event_store`, through Alembic.
    """
    await _run_operations(database, create_event_store)


async def uninstall(database: Database) -> None:
    await _run_operations(database, drop_event_store)


async def _run_operations(database: Database, operation: Callable[[], None]) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    def run(connection: Connection) -> None:
        with Operations.context(MigrationContext.configure(connection)):
            operation()

    async with database.transaction() as connection:
        await connection.run_sync(run)
