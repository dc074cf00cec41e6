"""The event store in memory: a real, public product for tests and the embedded demo.

Appends run one at a time under an asyncio lock, so positions are dense and commit
in order. There are no transactions: an append with a ``uow`` is visible at once
and is not undone if that unit of work rolls back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime

from tidings.errors import ConcurrencyError, IntegrityError
from tidings.eventstore.base import AppendResult, EventStore, NewEvent, RecordedEvent
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork


class MemoryEventStore(EventStore):
    """Events in a list; streams index into it."""

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._event_ids: set[str] = set()
        self._lock = asyncio.Lock()

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        uow: UnitOfWork | None = None,
    ) -> AppendResult:
        async with self._lock:
            stream = self._streams.get(stream_id, [])
            actual = len(stream)
            if expected_version is not None and actual != expected_version:
                raise ConcurrencyError(f"stream {stream_id}", expected_version, actual)
            recorded_at = utcnow()
            new: list[RecordedEvent] = []
            for offset, event in enumerate(events, start=1):
                event_id = event.event_id or str(uuid.uuid4())
                if event_id in self._event_ids:
                    raise IntegrityError(f"event id {event_id} is already stored")
                new.append(
                    RecordedEvent(
                        event_id=event_id,
                        stream_id=stream_id,
                        stream_version=actual + offset,
                        position=len(self._events) + offset,
                        type=event.type,
                        schema_version=event.schema_version,
                        data=dict(event.data),
                        metadata=dict(event.metadata),
                        recorded_at=recorded_at,
                    )
                )
            self._events.extend(new)
            self._streams.setdefault(stream_id, []).extend(new)
            self._event_ids.update(event.event_id for event in new)
            return AppendResult(
                stream_version=actual + len(new), positions=tuple(e.position for e in new)
            )

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
            event
            for event in self._streams.get(stream_id, [])[after_version:]
            if (to_version is None or event.stream_version <= to_version)
            and (to_position is None or event.position <= to_position)
            and (to_time is None or event.recorded_at <= to_time)
        ]

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        # Positions are dense from 1, so position p sits at index p - 1.
        start = max(after_position, 0)
        return self._events[start : start + limit]

    async def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, []))

    async def head_position(self) -> int:
        return len(self._events)
