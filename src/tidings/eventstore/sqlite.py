"""The event store on SQLite: one writer at a time, so positions commit in order.

Every transaction on a tidings SQLite database begins with ``BEGIN IMMEDIATE``
(:mod:`tidings.storage.database`), which takes the database's single write lock.
A position is allocated and committed under that lock, so a lower position can
never commit after a higher one: :meth:`read_all` may return everything committed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from tidings.eventstore._sql import SQLEventStore, insert_checked, recorded_from_row
from tidings.eventstore.base import AppendResult, NewEvent, RecordedEvent
from tidings.eventstore.schema import events
from tidings.storage.uow import UnitOfWork


class SQLiteEventStore(SQLEventStore):
    """The event store on one SQLite file."""

    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        uow: UnitOfWork | None,
    ) -> AppendResult:
        async with self.writing(uow) as connection:
            return await insert_checked(connection, stream_id, events, expected_version)

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        query = (
            select(events)
            .where(events.c.position > after_position)
            .order_by(events.c.position)
            .limit(limit)
        )
        async with self.reading() as connection:
            rows = (await connection.execute(query)).all()
        return [recorded_from_row(row) for row in rows]

    async def head_position(self) -> int:
        query = select(func.coalesce(func.max(events.c.position), 0))
        async with self.reading() as connection:
            return int((await connection.execute(query)).scalar_one())
