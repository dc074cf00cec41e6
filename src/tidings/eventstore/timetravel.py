"""Time travel: an aggregate as it was, a stream replayed from a date, its audit history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tidings.eventstore.aggregate import Aggregate, Repository
from tidings.eventstore.base import EventStore, RecordedEvent

A = TypeVar("A", bound=Aggregate)


async def load_as_of(
    repository: Repository[A],
    aggregate_id: str,
    *,
    position: int | None = None,
    time: datetime | None = None,
) -> A:
    """The aggregate with only the events at or before ``position`` / ``time``."""
    if position is None and time is None:
        raise ValueError("give a position or a time")
    return await repository.load(aggregate_id, to_position=position, to_time=time)


async def replay_from(store: EventStore, stream_id: str, since: datetime) -> list[RecordedEvent]:
    """The stream's events recorded at or after ``since``, in stream order."""
    return [event for event in await store.read_stream(stream_id) if event.recorded_at >= since]


async def replay_all_from(
    store: EventStore, since: datetime, *, batch: int = 1000
) -> AsyncIterator[RecordedEvent]:
    """Every event recorded at or after ``since``, in global order (a full scan)."""
    after = 0
    while events := await store.read_all(after_position=after, limit=batch):
        for event in events:
            if event.recorded_at >= since:
                yield event
        after = events[-1].position


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a stream's audit history."""

    version: int
    position: int
    recorded_at: datetime
    type: str
    schema_version: int
    actor: str | None
    data: Mapping[str, Any]


async def history(store: EventStore, stream_id: str) -> list[HistoryEntry]:
    """Who changed the stream, when, and how: one entry per event, oldest first."""
    return [
        HistoryEntry(
            version=event.stream_version,
            position=event.position,
            recorded_at=event.recorded_at,
            type=event.type,
            schema_version=event.schema_version,
            actor=event.metadata.get("actor"),
            data=event.data,
        )
        for event in await store.read_stream(stream_id)
    ]
