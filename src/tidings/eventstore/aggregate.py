"""Aggregates and their repository.

The domain stays free of I/O: an :class:`Aggregate` applies events to itself and
records new ones (``self.record(ItemAdded(...))``); a :class:`Repository` loads it
from its stream (from the latest snapshot plus the events after it) and saves the
recorded events with the version it was loaded at, so a concurrent change raises
:class:`~tidings.errors.ConcurrencyError` instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from tidings.errors import NotFound, UnknownMessageType
from tidings.eventstore.base import AppendResult, EventStore, NewEvent, RecordedEvent
from tidings.eventstore.snapshots import Snapshot, SnapshotStore, snapshot_store_for
from tidings.eventstore.upcasting import Upcasters
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork


class DomainEvent(BaseModel):
    """A typed event; its type name is the class name unless ``event_type`` says otherwise."""

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    @classmethod
    def type_name(cls) -> str:
        return cls.event_type or cls.__name__


class Aggregate:
    """An event-sourced entity. Subclasses implement :meth:`apply` (and, to be
    snapshotted, :meth:`snapshot` and :meth:`restore`)."""

    aggregate_type: ClassVar[str] = ""
    """The stream prefix; the class name unless set."""
    event_types: ClassVar[tuple[type[DomainEvent], ...]] = ()
    """Every event type the aggregate's stream may hold."""
    snapshot_every: ClassVar[int | None] = None
    """Take a snapshot each time the version passes a multiple of this (None: never)."""
    snapshot_schema_version: ClassVar[int] = 1

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        """The version of the last stored event this state includes."""
        self._pending: list[DomainEvent] = []

    @classmethod
    def type_name(cls) -> str:
        return cls.aggregate_type or cls.__name__

    def apply(self, event: DomainEvent) -> None:
        """Change the state as ``event`` says. No checks, no I/O: the event happened."""
        raise NotImplementedError

    def record(self, event: DomainEvent) -> None:
        """Apply a new event and keep it for the next save."""
        self.apply(event)
        self._pending.append(event)

    @property
    def pending(self) -> tuple[DomainEvent, ...]:
        return tuple(self._pending)

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-able data (for snapshots)."""
        raise NotImplementedError(f"{type(self).__name__} does not support snapshots")

    def restore(self, state: Mapping[str, Any]) -> None:
        """Set the state from :meth:`snapshot`'s data."""
        raise NotImplementedError(f"{type(self).__name__} does not support snapshots")


A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Loads and saves one aggregate type through an event store."""

    def __init__(
        self,
        store: EventStore,
        aggregate: type[A],
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_every: int | None = None,
        upcasters: Upcasters | None = None,
        snapshot_upcasters: Upcasters | None = None,
    ) -> None:
        self.store = store
        self.aggregate = aggregate
        self.snapshot_every = snapshot_every or aggregate.snapshot_every
        self.snapshots = snapshots or (snapshot_store_for(store) if self.snapshot_every else None)
        self.upcasters = upcasters or Upcasters()
        self.snapshot_upcasters = snapshot_upcasters or Upcasters()
        self._types = {event.type_name(): event for event in aggregate.event_types}

    def stream_id(self, aggregate_id: str) -> str:
        return f"{self.aggregate.type_name()}-{aggregate_id}"

    def decode(self, recorded: RecordedEvent) -> DomainEvent:
        """The typed event, upcast from its stored schema version."""
        model = self._types.get(recorded.type)
        if model is None:
            raise UnknownMessageType(
                f"{self.aggregate.type_name()} has no event type {recorded.type!r}"
            )
        version, data = self.upcasters.upcast(recorded.type, recorded.schema_version, recorded.data)
        if version != model.schema_version:
            raise UnknownMessageType(
                f"{recorded.type} version {recorded.schema_version} upcasts to {version}, "
                f"not the current {model.schema_version}: an upcaster is missing"
            )
        return model.model_validate(data)

    async def get(
        self,
        aggregate_id: str,
        *,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> A | None:
        """The aggregate (as of a position or time when given), or None if it has no events."""
        stream = self.stream_id(aggregate_id)
        aggregate = self.aggregate(aggregate_id)
        bounded = to_position is not None or to_time is not None
        snapshot = await self.snapshots.latest(stream) if self.snapshots else None
        if snapshot is not None and bounded:
            last = await self.store.read_stream(
                stream,
                after_version=snapshot.stream_version - 1,
                to_version=snapshot.stream_version,
                to_position=to_position,
                to_time=to_time,
            )
            if not last:  # the snapshot is newer than the bound: replay from the start
                snapshot = None
        if snapshot is not None:
            self._restore(aggregate, snapshot)
        events = await self.store.read_stream(
            stream, after_version=aggregate.version, to_position=to_position, to_time=to_time
        )
        for recorded in events:
            aggregate.apply(self.decode(recorded))
            aggregate.version = recorded.stream_version
        if aggregate.version == 0:
            return None
        return aggregate

    async def load(
        self,
        aggregate_id: str,
        *,
        to_position: int | None = None,
        to_time: datetime | None = None,
    ) -> A:
        """Like :meth:`get`, but raises :class:`NotFound` for an aggregate with no events."""
        aggregate = await self.get(aggregate_id, to_position=to_position, to_time=to_time)
        if aggregate is None:
            raise NotFound(f"{self.aggregate.type_name()} {aggregate_id} has no events")
        return aggregate

    async def save(
        self,
        aggregate: A,
        *,
        uow: UnitOfWork | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AppendResult | None:
        """Append the recorded events at the version the aggregate was loaded at.

        Raises :class:`~tidings.errors.ConcurrencyError` if the stream moved on; the
        aggregate is then unchanged, so the caller reloads and retries.
        """
        pending = aggregate.pending
        if not pending:
            return None
        new = [
            NewEvent(
                type=event.type_name(),
                data=event.model_dump(mode="json"),
                schema_version=event.schema_version,
                metadata=dict(metadata or {}),
            )
            for event in pending
        ]
        before = aggregate.version
        result = await self.store.append(
            self.stream_id(aggregate.id), new, expected_version=before, uow=uow
        )
        aggregate.version = result.stream_version
        aggregate._pending.clear()
        every = self.snapshot_every
        if self.snapshots is not None and every and before // every < aggregate.version // every:
            await self.snapshots.save(self._snapshot_of(aggregate), uow=uow)
        return result

    def _snapshot_of(self, aggregate: A) -> Snapshot:
        return Snapshot(
            stream_id=self.stream_id(aggregate.id),
            stream_version=aggregate.version,
            type=self.aggregate.type_name(),
            schema_version=self.aggregate.snapshot_schema_version,
            state=aggregate.snapshot(),
            recorded_at=utcnow(),
        )

    def _restore(self, aggregate: A, snapshot: Snapshot) -> None:
        version, state = self.snapshot_upcasters.upcast(
            snapshot.type, snapshot.schema_version, snapshot.state
        )
        if version != self.aggregate.snapshot_schema_version:
            raise UnknownMessageType(
                f"{snapshot.type} snapshot version {snapshot.schema_version} upcasts to "
                f"{version}, not the current {self.aggregate.snapshot_schema_version}"
            )
        aggregate.restore(state)
        aggregate.version = snapshot.stream_version
