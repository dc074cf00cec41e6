"""Why a reader is held back: the open transactions that keep :meth:`read_all` from
passing committed events.

A late commit can only be waited for, never skipped, so one transaction left open
(a stuck request, an idle-in-transaction session) stops every subscriber at the
position before it. :func:`held_back_by` names that transaction so an operator can
end it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from tidings.eventstore.base import EventStore


@dataclass(frozen=True)
class BlockingTransaction:
    """An open transaction that may still commit events below committed ones."""

    connection_id: int
    """The server's id for the session (PostgreSQL pid, MariaDB thread id)."""
    transaction_id: str
    started_at: datetime | None
    age_seconds: float
    state: str
    query: str
    database: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class HeldBack:
    """What :func:`held_back_by` found."""

    head_position: int
    """The highest position readers may pass now."""
    held_events: int
    """Committed events above that head, waiting for the blockers."""
    blockers: tuple[BlockingTransaction, ...]

    @property
    def is_held_back(self) -> bool:
        return self.held_events > 0 and bool(self.blockers)


@runtime_checkable
class ReportsBlockers(Protocol):
    """An event store that can name the transactions holding its readers back."""

    async def blocking_transactions(self) -> list[BlockingTransaction]: ...

    async def committed_above(self, position: int) -> int: ...


async def held_back_by(store: EventStore) -> HeldBack:
    """The store's safe head, how many committed events wait above it, and who holds them.

    Stores without concurrent writers (SQLite, memory) are never held back: they
    report no blockers.
    """
    head = await store.head_position()
    if not isinstance(store, ReportsBlockers):
        return HeldBack(head_position=head, held_events=0, blockers=())
    blockers = await store.blocking_transactions()
    held = await store.committed_above(head)
    return HeldBack(head_position=head, held_events=held, blockers=tuple(blockers))


@runtime_checkable
class CountsEvents(Protocol):
    """An event store whose positions may be sparse, which counts events instead."""

    async def count_between(self, after: int, up_to: int) -> int: ...


async def events_behind(store: EventStore, checkpoint: int, head: int | None = None) -> int:
    """How many events a subscriber at ``checkpoint`` has yet to read, up to ``head``
    (the store's safe head when not given).

    Use this, not ``head - checkpoint``, for lag: PostgreSQL positions have gaps of
    about 2^20 between transactions, so subtracting them counts nothing useful.
    """
    if head is None:
        head = await store.head_position()
    if head <= checkpoint:
        return 0
    if isinstance(store, CountsEvents):
        return await store.count_between(checkpoint, head)
    return head - checkpoint
