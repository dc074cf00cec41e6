"""The event store port: streams with expected-version appends and a global order.

Adapters (one module each, symmetric names): ``PostgresEventStore``,
``MariaDBEventStore``, ``SQLiteEventStore`` and ``MemoryEventStore``; all pass
:mod:`tidings.testing.eventstore`.

Contract:

* A stream is a sequence of events numbered 1, 2, 3, ... (``stream_version``).
  :meth:`EventStore.append` writes new events only if the stream is still at
  ``expected_version`` (0 for a new stream, ``None`` for "any"); otherwise it
  raises :class:`~tidings.errors.ConcurrencyError` naming the stream, the expected
  and the actual version. Of two appends at the same expected version exactly one wins.
* Every event also gets a global ``position``, increasing in append order.
  :meth:`EventStore.read_all` returns events after a position in position order
  and **never skips one**: it does not return an event at position p while an
  event at a lower position may still commit (a transaction that took a lower
  position but commits later). It holds those back instead, without one lock
  that serialises all writers.
* Events are append-only: the database refuses UPDATE and DELETE on them.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.storage.uow import UnitOfWork


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    """A UUID; generated when not given."""


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store holds it."""

    event_id: str
    stream_id: str
    stream_version: int
    position: int
    type: str
    schema_version: int
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    recorded_at: datetime


@dataclass(frozen=True)
class AppendResult:
    stream_version: int
    """The stream's version after the append."""
    positions: tuple[int, ...]
    """The global positions the new events took."""

    @property
    def last_position(self) -> int:
        return self.positions[-1]


class EventStore(abc.ABC):
    """One service's event store."""

    @abc.abstractmethod
    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        uow: UnitOfWork | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` if it is at ``expected_version``.

        With ``uow`` the events commit in that unit of work (with its business and
        outbox rows); without it the store opens and commits its own transaction.
        """

    @abc.abstractmethod
    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> list[RecordedEvent]:
        """The stream's events after ``after_version``, bounded by version, position or time."""

    @abc.abstractmethod
    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events after ``after_position`` in position order, never skipping a late commit."""

    @abc.abstractmethod
    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 when it does not exist)."""

    @abc.abstractmethod
    async def head_position(self) -> int:
        """The highest position :meth:`read_all` may return now (0 when empty)."""
