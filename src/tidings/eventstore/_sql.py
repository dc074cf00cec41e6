"""What the SQL adapters share: row mapping, stream reads, version checks.

Each backend module adds the two things that differ: how an append takes its
positions, and which positions :meth:`read_all` may safely return.
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, func, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.errors import ConcurrencyError, IntegrityError, LockConflict
from tidings.eventstore.base import AppendResult, EventStore, NewEvent, RecordedEvent
from tidings.eventstore.schema import STREAM_VERSION_INDEX, events
from tidings.eventstore.schema import events as events_table
from tidings.storage.database import Database
from tidings.storage.errors import mapped_errors
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork


def new_event_id(event: NewEvent) -> str:
    return event.event_id or str(uuid.uuid4())


def is_version_conflict(error: IntegrityError) -> bool:
    """Whether the unique (stream_id, stream_version) index refused the row."""
    text = str(error)
    return STREAM_VERSION_INDEX in text or "events.stream_id, events.stream_version" in text


def recorded_from_row(row: Row[Any]) -> RecordedEvent:
    return RecordedEvent(
        event_id=row.event_id,
        stream_id=row.stream_id,
        stream_version=row.stream_version,
        position=row.position,
        type=row.type,
        schema_version=row.schema_version,
        data=row.data,
        metadata=row.metadata,
        recorded_at=row.recorded_at,
    )


def stream_query(
    stream_id: str,
    *,
    after_version: int,
    to_version: int | None,
    to_position: int | None,
    to_time: datetime | None,
) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [
        events.c.stream_id == stream_id,
        events.c.stream_version > after_version,
    ]
    if to_version is not None:
        conditions.append(events.c.stream_version <= to_version)
    if to_position is not None:
        conditions.append(events.c.position <= to_position)
    if to_time is not None:
        conditions.append(events.c.recorded_at <= to_time)
    return select(events).where(*conditions).order_by(events.c.stream_version)


def version_query(stream_id: str) -> Select[Any]:
    return select(func.coalesce(func.max(events.c.stream_version), 0)).where(
        events.c.stream_id == stream_id
    )


class SQLEventStore(EventStore):
    """The parts of an event store that are plain SQL on every backend."""

    autocommit_reads: ClassVar[bool] = True
    """Run single-statement reads without BEGIN/ROLLBACK (one round trip instead of three)."""

    conflict_aborts_transaction: ClassVar[bool] = False
    """A refused insert aborts the whole transaction (PostgreSQL), not just the statement."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.database!r})"

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; committed state only."""
        with mapped_errors(self.database.describe):
            async with self.database.engine.connect() as connection:
                if self.autocommit_reads:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection

    @asynccontextmanager
    async def writing(self, uow: UnitOfWork | None) -> AsyncIterator[AsyncConnection]:
        """The caller's transaction, or a new one committed when the block ends."""
        if uow is not None:
            with mapped_errors(self.database.describe):
                yield uow.connection
            return
        async with self.database.transaction() as connection:
            yield connection

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        query = stream_query(
            stream_id,
            after_version=after_version,
            to_version=to_version,
            to_position=to_position,
            to_time=to_time,
        )
        async with self.reading() as connection:
            rows = (await connection.execute(query)).all()
        return [recorded_from_row(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        async with self.reading() as connection:
            return int((await connection.execute(version_query(stream_id))).scalar_one())

    async def count_between(self, after: int, up_to: int) -> int:
        """How many committed events have ``after < position <= up_to``."""
        query = (
            select(func.count())
            .select_from(events_table)
            .where(events_table.c.position > after, events_table.c.position <= up_to)
        )
        async with self.reading() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        uow: UnitOfWork | None = None,
    ) -> AppendResult:
        if not events:
            actual = await self.stream_version(stream_id)
            if expected_version is not None and actual != expected_version:
                raise ConcurrencyError(f"stream {stream_id}", expected_version, actual)
            return AppendResult(stream_version=actual, positions=())
        # "Any version" in our own transaction may simply try again after a collision.
        attempts = 5 if expected_version is None and uow is None else 1
        lock_attempts = 5 if uow is None else 1
        attempt = lock_attempt = 0
        while True:
            try:
                return await self._append(stream_id, events, expected_version, uow)
            except IntegrityError as error:
                if not is_version_conflict(error):
                    raise
                attempt += 1
                if attempt < attempts:
                    continue
                actual = await self._version_after_conflict(stream_id, uow)
                raise ConcurrencyError(f"stream {stream_id}", expected_version, actual) from None
            except LockConflict:
                # Racing inserts of one stream version can deadlock on the unique index
                # (MariaDB picks a victim, PostgreSQL too). In our own transaction nothing
                # is lost: run it again, and the version check decides. The caller's unit
                # of work is rolled back or poisoned, so it learns of the conflict instead.
                lock_attempt += 1
                if lock_attempt < lock_attempts:
                    await asyncio.sleep(0.01 * lock_attempt)
                    continue
                actual = await self.stream_version(stream_id)
                raise ConcurrencyError(f"stream {stream_id}", expected_version, actual) from None

    async def _version_after_conflict(self, stream_id: str, uow: UnitOfWork | None) -> int:
        """The version someone else appended first, read where it can be read."""
        if uow is not None and not self.conflict_aborts_transaction:
            # Only the statement failed; a second connection might wait on our own lock
            # (SQLite's single writer), so ask inside the caller's transaction.
            return int((await uow.execute(version_query(stream_id))).scalar_one())
        return await self.stream_version(stream_id)

    @abc.abstractmethod
    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        uow: UnitOfWork | None,
    ) -> AppendResult:
        """Insert the events; raise ConcurrencyError, or let the unique index refuse them."""


def insert_rows(
    stream_id: str, events: Sequence[NewEvent], first_version: int, recorded_at: datetime
) -> list[dict[str, Any]]:
    """The rows for ``events`` numbered from ``first_version`` (positions left to the database)."""
    return [
        {
            "event_id": new_event_id(event),
            "stream_id": stream_id,
            "stream_version": first_version + index,
            "type": event.type,
            "schema_version": event.schema_version,
            "data": dict(event.data),
            "metadata": dict(event.metadata),
            "recorded_at": recorded_at,
        }
        for index, event in enumerate(events)
    ]


async def insert_checked(
    connection: AsyncConnection,
    stream_id: str,
    events: Sequence[NewEvent],
    expected_version: int | None,
) -> AppendResult:
    """Check the stream's version, then insert; the unique index catches a racing writer.

    For backends whose write transactions see the latest committed version (MariaDB
    at READ COMMITTED, SQLite under its single writer lock).
    """
    if expected_version == 0:
        # A new stream needs no read: the unique index refuses version 1 if it exists.
        current = 0
    else:
        current = int((await connection.execute(version_query(stream_id))).scalar_one())
        if expected_version is not None and current != expected_version:
            raise ConcurrencyError(f"stream {stream_id}", expected_version, current)
    rows = insert_rows(stream_id, events, current + 1, utcnow())
    statement = (
        insert(events_table)
        .values(rows)
        .returning(events_table.c.position, events_table.c.stream_version)
    )
    result = (await connection.execute(statement)).all()
    ordered = sorted(result, key=lambda row: int(row.stream_version))
    return AppendResult(
        stream_version=int(ordered[-1].stream_version),
        positions=tuple(int(row.position) for row in ordered),
    )
