"""Reading a stream inside the caller's transaction.

:meth:`tidings.eventstore.base.EventStore.read_stream` reads on a connection of
its own. Inside a unit of work that already holds SQLite's single write lock
(a consumer's, or ours while deciding), that second connection waits on our own
lock. So decisions read their streams through the unit of work's connection,
from the event store's own table; the store still does every append.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tidings.eventstore.schema import events, snapshots
from tidings.storage.uow import UnitOfWork


@dataclass(frozen=True)
class StreamEvent:
    type: str
    data: Mapping[str, Any]
    stream_version: int


async def read_stream_in(
    uow: UnitOfWork, stream_id: str, *, after_version: int = 0
) -> list[StreamEvent]:
    rows = await uow.execute(
        select(events.c.type, events.c.data, events.c.stream_version)
        .where(events.c.stream_id == stream_id, events.c.stream_version > after_version)
        .order_by(events.c.stream_version)
    )
    return [StreamEvent(row.type, row.data, int(row.stream_version)) for row in rows]


async def latest_snapshot_in(
    uow: UnitOfWork, stream_id: str
) -> tuple[int, Mapping[str, Any]] | None:
    """``(version, state)`` of the stream's newest snapshot, read in ``uow``."""
    row = (
        await uow.execute(
            select(snapshots.c.stream_version, snapshots.c.state)
            .where(snapshots.c.stream_id == stream_id)
            .order_by(snapshots.c.stream_version.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.stream_version), row.state)
