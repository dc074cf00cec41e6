"""Event sourcing: the event store, aggregates and their repository, snapshots,
upcasters, time travel, and the diagnostic for readers held back by open transactions.

Adapters: :class:`PostgresEventStore`, :class:`MariaDBEventStore`,
:class:`SQLiteEventStore`, :class:`MemoryEventStore`; :func:`event_store_for` picks
one for a database. A service's migrations create the tables with
:func:`create_event_store`.
"""

from tidings.eventstore.aggregate import Aggregate, DomainEvent, Repository
from tidings.eventstore.base import AppendResult, EventStore, NewEvent, RecordedEvent
from tidings.eventstore.diagnostics import (
    BlockingTransaction,
    HeldBack,
    events_behind,
    held_back_by,
)
from tidings.eventstore.factory import event_store_for
from tidings.eventstore.mariadb import MariaDBEventStore
from tidings.eventstore.memory import MemoryEventStore
from tidings.eventstore.postgres import PostgresEventStore
from tidings.eventstore.schema import create_event_store, drop_event_store
from tidings.eventstore.snapshots import (
    MemorySnapshotStore,
    Snapshot,
    SnapshotStore,
    SQLSnapshotStore,
    snapshot_store_for,
)
from tidings.eventstore.sqlite import SQLiteEventStore
from tidings.eventstore.timetravel import (
    HistoryEntry,
    history,
    load_as_of,
    replay_all_from,
    replay_from,
)
from tidings.eventstore.upcasting import Upcaster, Upcasters

__all__ = [
    "Aggregate",
    "AppendResult",
    "BlockingTransaction",
    "DomainEvent",
    "EventStore",
    "HeldBack",
    "HistoryEntry",
    "MariaDBEventStore",
    "MemoryEventStore",
    "MemorySnapshotStore",
    "NewEvent",
    "PostgresEventStore",
    "RecordedEvent",
    "Repository",
    "SQLSnapshotStore",
    "SQLiteEventStore",
    "Snapshot",
    "SnapshotStore",
    "Upcaster",
    "Upcasters",
    "create_event_store",
    "drop_event_store",
    "event_store_for",
    "events_behind",
    "held_back_by",
    "history",
    "load_as_of",
    "replay_all_from",
    "replay_from",
    "snapshot_store_for",
]
