"""Snapshots: an aggregate's state at a stream version, so loading need not replay
every event. A snapshot is a cache of what the events say; losing one costs time,
never correctness."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from tidings.eventstore.base import EventStore
from tidings.eventstore.schema import snapshots
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


@dataclass(frozen=True)
class Snapshot:
    stream_id: str
    stream_version: int
    """The version of the last event the state includes."""
    type: str
    schema_version: int
    state: Mapping[str, Any]
    recorded_at: datetime


class SnapshotStore(abc.ABC):
    @abc.abstractmethod
    async def save(self, snapshot: Snapshot, *, uow: UnitOfWork | None = None) -> None:
        """Store ``snapshot`` (in ``uow``'s transaction when given)."""

    @abc.abstractmethod
    async def latest(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot of the stream at or below ``max_version``."""


class MemorySnapshotStore(SnapshotStore):
    def __init__(self) -> None:
        self._by_stream: dict[str, list[Snapshot]] = {}

    async def save(self, snapshot: Snapshot, *, uow: UnitOfWork | None = None) -> None:
        self._by_stream.setdefault(snapshot.stream_id, []).append(snapshot)

    async def latest(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        candidates = [
            snapshot
            for snapshot in self._by_stream.get(stream_id, [])
            if max_version is None or snapshot.stream_version <= max_version
        ]
        return max(candidates, key=lambda s: s.stream_version, default=None)


class SQLSnapshotStore(SnapshotStore):
    """Snapshots in the ``snapshots`` table, on any backend."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def save(self, snapshot: Snapshot, *, uow: UnitOfWork | None = None) -> None:
        statement = insert(snapshots).values(
            stream_id=snapshot.stream_id,
            stream_version=snapshot.stream_version,
            type=snapshot.type,
            schema_version=snapshot.schema_version,
            state=dict(snapshot.state),
            recorded_at=snapshot.recorded_at,
        )
        if uow is not None:
            await uow.execute(statement)
            return
        async with self.database.transaction() as connection:
            await connection.execute(statement)

    async def latest(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        query = select(snapshots).where(snapshots.c.stream_id == stream_id)
        if max_version is not None:
            query = query.where(snapshots.c.stream_version <= max_version)
        query = query.order_by(snapshots.c.stream_version.desc()).limit(1)
        async with self.database.read() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return Snapshot(
            stream_id=row.stream_id,
            stream_version=row.stream_version,
            type=row.type,
            schema_version=row.schema_version,
            state=row.state,
            recorded_at=row.recorded_at,
        )


def snapshot_store_for(store: EventStore) -> SnapshotStore:
    """Snapshots beside ``store``: in its database, or in memory for a memory store."""
    database = getattr(store, "database", None)
    if isinstance(database, Database):
        return SQLSnapshotStore(database)
    return MemorySnapshotStore()
