"""The inbox: which messages each consumer has applied, and when.

A row is written in the same unit of work as the handler's effects
(:func:`record`), so a message's effect and the proof that it happened commit
together or not at all.

Retention. :func:`purge_inbox` deletes rows applied before a cutoff. The cutoff
must lie beyond every redelivery horizon, or a late duplicate would take effect
a second time: a broker redelivers an unacknowledged message within minutes, a
relay that crashed between the broker's confirm and marking its row publishes
again when it restarts (minutes to hours), and a broker's own store keeps
messages for its retention period. :data:`DEFAULT_INBOX_RETENTION` (7 days)
is longer than all of these with the default broker settings; a service whose
relay may stay down longer, or whose broker keeps messages longer, needs more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from tidings.inbox.tables import inbox
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

DEFAULT_INBOX_RETENTION = timedelta(days=7)


async def record(
    uow: UnitOfWork,
    *,
    consumer: str,
    message_id: str,
    message_type: str,
    committed_at: datetime | None,
    applied_at: datetime | None = None,
) -> None:
    """Claim ``message_id`` for ``consumer`` in the unit of work's transaction.

    Raises :class:`~tidings.errors.IntegrityError` if the consumer already applied
    the message (or, racing, another transaction claimed it first and commits).
    """
    await uow.execute(
        insert(inbox).values(
            consumer=consumer,
            message_id=message_id,
            message_type=message_type,
            committed_at=committed_at,
            applied_at=applied_at or utcnow(),
        )
    )


async def has_applied(database: Database, consumer: str, message_id: str) -> bool:
    async with database.transaction() as connection:
        row = await connection.execute(
            select(inbox.c.message_id).where(
                inbox.c.consumer == consumer, inbox.c.message_id == message_id
            )
        )
        return row.first() is not None


async def applied_ids(database: Database, consumer: str) -> set[str]:
    """Every message id ``consumer`` has applied (for tests and checks, not hot paths)."""
    async with database.transaction() as connection:
        rows = await connection.execute(
            select(inbox.c.message_id).where(inbox.c.consumer == consumer)
        )
        return {row.message_id for row in rows}


async def purge_inbox(
    database: Database, older_than: timedelta, *, consumer: str | None = None
) -> int:
    """Delete inbox rows applied more than ``older_than`` ago; return how many.

    ``older_than`` must exceed the redelivery horizon (see the module docstring).
    """
    cutoff = utcnow() - older_than
    statement = delete(inbox).where(inbox.c.applied_at < cutoff)
    if consumer is not None:
        statement = statement.where(inbox.c.consumer == consumer)
    async with database.transaction() as connection:
        result = await connection.execute(statement)
        return int(result.rowcount)


@dataclass(frozen=True)
class ConsumerRecord:
    """One consumer's inbox in one service: rows kept, oldest and newest application."""

    service: str
    consumer: str
    rows: int
    oldest: datetime | None
    newest: datetime | None


async def consumer_records(database: Database) -> list[ConsumerRecord]:
    """Per consumer of ``database``'s inbox: rows kept, oldest and newest ``applied_at``."""
    query = (
        select(
            inbox.c.consumer,
            func.count(),
            func.min(inbox.c.applied_at),
            func.max(inbox.c.applied_at),
        )
        .group_by(inbox.c.consumer)
        .order_by(inbox.c.consumer)
    )
    async with database.read() as connection:
        rows = (await connection.execute(query)).all()
    return [
        ConsumerRecord(database.service, str(consumer), int(count), oldest, newest)
        for consumer, count, oldest, newest in rows
    ]


async def sync_delays(
    database: Database,
    *,
    since: datetime | None = None,
    consumer: str | None = None,
) -> dict[str, list[float]]:
    """Commit-to-effect seconds of every message applied since ``since``, by message type.

    The delay is the consumer's applied time minus the producer's commit time (the
    envelope's ``time``); both clocks are assumed to be in sync (NTP).
    """
    statement = select(inbox.c.message_type, inbox.c.committed_at, inbox.c.applied_at).where(
        inbox.c.committed_at.is_not(None)
    )
    if since is not None:
        statement = statement.where(inbox.c.applied_at >= since)
    if consumer is not None:
        statement = statement.where(inbox.c.consumer == consumer)
    delays: dict[str, list[float]] = {}
    async with database.transaction() as connection:
        for row in await connection.execute(statement):
            seconds = (row.applied_at - row.committed_at).total_seconds()
            delays.setdefault(row.message_type, []).append(seconds)
    for values in delays.values():
        values.sort()
    return delays


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 for p99) of sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


async def sync_delay_percentiles(
    database: Database,
    *,
    since: datetime | None = None,
    consumer: str | None = None,
    fractions: Iterable[float] = (0.5, 0.95, 0.99),
) -> dict[str, dict[str, float]]:
    """``{type: {"count": n, "p50": s, "p95": s, "p99": s, "max": s}}`` in seconds."""
    wanted = tuple(fractions)
    summary: dict[str, dict[str, float]] = {}
    for message_type, values in (
        await sync_delays(database, since=since, consumer=consumer)
    ).items():
        entry: dict[str, float] = {"count": float(len(values)), "max": values[-1]}
        for fraction in wanted:
            entry[f"p{fraction * 100:g}"] = percentile(values, fraction)
        summary[message_type] = entry
    return summary
