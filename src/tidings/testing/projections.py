"""Test aids for projections: a list-backed event store and a sample projection.

``ListEventStore`` keeps events in a Python list; it satisfies the
:class:`~tidings.eventstore.base.EventStore` port well enough for projection
tests (no expected-version races, no late commits). ``tally_projection`` counts
events per stream into one table, so a double-applied event shows as a wrong count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, select, update
from sqlalchemy.engine import Connection

from tidings.errors import ConcurrencyError
from tidings.eventstore.base import AppendResult, EventStore, NewEvent, RecordedEvent
from tidings.projections.checkpoints import projection_checkpoints
from tidings.projections.definition import Projection, ProjectionContext, projection
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


class ListEventStore(EventStore):
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.reads = 0

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        uow: UnitOfWork | None = None,
    ) -> AppendResult:
        version = await self.stream_version(stream_id)
        if expected_version is not None and expected_version != version:
            raise ConcurrencyError(stream_id, expected_version, version)
        positions = []
        for event in events:
            version += 1
            position = len(self.events) + 1
            self.events.append(
                RecordedEvent(
                    event_id=event.event_id or str(uuid4()),
                    stream_id=stream_id,
                    stream_version=version,
                    position=position,
                    type=event.type,
                    schema_version=event.schema_version,
                    data=dict(event.data),
                    metadata=dict(event.metadata),
                    recorded_at=datetime.now(UTC) - timedelta(seconds=1),
                )
            )
            positions.append(position)
        return AppendResult(version, tuple(positions))

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        return [
            e
            for e in self.events
            if e.stream_id == stream_id
            and e.stream_version > after_version
            and (to_version is None or e.stream_version <= to_version)
            and (to_position is None or e.position <= to_position)
            and (to_time is None or e.recorded_at <= to_time)
        ]

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        self.reads += 1
        return self.events[after_position : after_position + limit]

    async def stream_version(self, stream_id: str) -> int:
        return sum(1 for e in self.events if e.stream_id == stream_id)

    async def head_position(self) -> int:
        return len(self.events)


tally_metadata = MetaData()
tallies = Table(
    "tallies",
    tally_metadata,
    Column("stream_id", String(100), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Index("ix_tallies_total", "total"),
)


def tally_projection(name: str = "tallies", *, fail_at: int | None = None) -> Projection:
    """Counts ``Added`` events per stream and sums their ``amount``.

    With ``fail_at`` the handler raises on the event at that position.
    """
    builder = projection(name, [tallies])

    @builder.on("Added")
    async def added(ctx: ProjectionContext, event: RecordedEvent) -> None:
        if fail_at is not None and event.position == fail_at:
            raise RuntimeError(f"handler failed at position {event.position}")
        table = ctx.table(tallies)
        amount = int(event.data.get("amount", 1))
        changed = await ctx.execute(
            update(table)
            .where(table.c.stream_id == event.stream_id)
            .values(
                events=table.c.events + 1,
                total=table.c.total + amount,
                last_position=event.position,
            )
        )
        if getattr(changed, "rowcount", 0) == 0:
            ctx.insert(
                table,
                {
                    "stream_id": event.stream_id,
                    "events": 1,
                    "total": amount,
                    "last_position": event.position,
                },
            )

    return builder.build()


async def create_tables(database: Database, *tables: Table) -> None:
    """Create the checkpoint table and ``tables`` (tests only; services use migrations)."""

    def create(sync: Connection) -> None:
        for table in (projection_checkpoints, *tables):
            table.create(sync, checkfirst=True)

    async with database.transaction() as connection:
        await connection.run_sync(create)


async def read_tallies(database: Database) -> dict[str, tuple[int, int]]:
    async with database.connect() as connection:
        result = await connection.execute(
            select(tallies.c.stream_id, tallies.c.events, tallies.c.total)
        )
        return {row.stream_id: (row.events, row.total) for row in result}


async def append_added(store: EventStore, stream_id: str, amounts: Sequence[int]) -> AppendResult:
    return await store.append(
        stream_id,
        [NewEvent("Added", {"amount": amount}) for amount in amounts],
        expected_version=None,
    )
