"""Apply one batch of events to a read model and move its checkpoint, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Table

from tidings.eventstore.base import RecordedEvent
from tidings.projections.checkpoints import Status, advance
from tidings.projections.definition import Projection, ProjectionContext, Publisher
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work


class StaleCheckpoint(Exception):
    """The checkpoint was not where this batch started: someone else moved it."""


class BatchApplier:
    """Applies batches for one checkpoint row (the live one, or a rebuild's shadow)."""

    def __init__(
        self,
        projection: Projection,
        checkpoint_name: str,
        tables: Mapping[str, Table],
        *,
        replaying: bool,
        publisher: Publisher | None = None,
        status: Status = Status.LIVE,
        allowed: tuple[Status, ...] = (Status.LIVE, Status.FAILED),
    ) -> None:
        self.projection = projection
        self.checkpoint_name = checkpoint_name
        self.tables = dict(tables)
        self.replaying = replaying
        self.publisher = publisher
        self.status = status
        self.allowed = allowed

    async def apply(
        self, database: Database, events: Sequence[RecordedEvent], expected: int
    ) -> int:
        """Apply ``events`` (all after ``expected``) in their own transaction; the new position."""
        async with unit_of_work(database) as uow:
            return await self.apply_in(uow, events, expected)

    async def apply_in(
        self, uow: UnitOfWork, events: Sequence[RecordedEvent], expected: int
    ) -> int:
        """Apply ``events`` inside ``uow``; raises :class:`StaleCheckpoint` if it moved."""
        if not events:
            return expected
        position = events[-1].position
        # The checkpoint first: its UPDATE takes the row lock, so a racing batch or swap
        # waits here and then sees the position changed instead of applying twice.
        moved = await advance(
            uow.connection,
            self.checkpoint_name,
            expected=expected,
            position=position,
            status=self.status,
            allowed=self.allowed,
        )
        if not moved:
            raise StaleCheckpoint(self.checkpoint_name)
        context = ProjectionContext(
            uow, self.tables, replaying=self.replaying, publisher=self.publisher
        )
        for event in events:
            handler = self.projection.handler_for(event.type)
            if handler is not None:
                await handler(context, event)
        await context.flush()
        return position
