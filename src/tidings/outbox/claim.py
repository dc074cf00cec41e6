"""The relay's SQL: claim a batch of unpublished rows, keep per-aggregate order,
mark the batch published. Each runs on the relay's open transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.brokers.base import OutgoingMessage
from tidings.messages.envelope import without_binary_mode_headers
from tidings.outbox.table import outbox


@dataclass(frozen=True)
class ClaimedRow:
    seq: int
    id: str
    aggregatetype: str
    aggregateid: str
    topic: str
    payload: str
    headers: dict[str, str]

    @property
    def aggregate(self) -> tuple[str, str]:
        return (self.aggregatetype, self.aggregateid)

    def outgoing(self) -> OutgoingMessage:
        return OutgoingMessage(
            message_id=self.id,
            topic=self.topic,
            body=self.payload.encode(),
            # Rows written by older versions carry ce-* headers: a CloudEvents reader
            # would take the structured-mode body for binary mode.
            headers=without_binary_mode_headers(
                {str(key): str(value) for key, value in self.headers.items()}
            ),
            ordering_key=f"{self.aggregatetype}:{self.aggregateid}",
        )


_NO_SORT = text("SET LOCAL enable_sort = off")

_COLUMNS = (
    outbox.c.seq,
    outbox.c.id,
    outbox.c.aggregatetype,
    outbox.c.aggregateid,
    outbox.c.topic,
    outbox.c.payload,
    outbox.c.headers,
)


def _row(values: Any) -> ClaimedRow:
    headers = values.headers if isinstance(values.headers, dict) else {}
    return ClaimedRow(
        seq=int(values.seq),
        id=values.id,
        aggregatetype=values.aggregatetype,
        aggregateid=values.aggregateid,
        topic=values.topic,
        payload=values.payload,
        headers=headers,
    )


async def claim(connection: AsyncConnection, *, limit: int, skip_locked: bool) -> list[ClaimedRow]:
    """The oldest unpublished rows, in ``seq`` order, locked for this transaction.

    With ``skip_locked`` (PostgreSQL, MariaDB) rows another relay worker holds are
    skipped rather than waited for, so workers take disjoint batches. Without it
    (SQLite) nothing is locked beyond this transaction: the caller makes sure one
    relay at a time works on the database.
    """
    statement = (
        select(*_COLUMNS).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(limit)
    )
    if connection.dialect.name == "postgresql":
        # Statistics describe the steady state: almost no unpublished rows. Planned on
        # them, the claim reads and sorts the whole backlog (a bitmap scan), so draining
        # a backlog after an outage costs its square. Without sorting, the only plan
        # left walks the partial index in seq order and stops after ``limit`` rows.
        await connection.execute(_NO_SORT)
    if skip_locked:
        statement = statement.with_for_update(skip_locked=True)
    result = await connection.execute(statement)
    return [_row(values) for values in result]


async def in_aggregate_order(
    connection: AsyncConnection, rows: Sequence[ClaimedRow]
) -> list[ClaimedRow]:
    """``rows`` without those an unpublished earlier row of their aggregate must precede.

    The guarantee: a worker publishes a row only if every earlier row (lower
    ``seq``) of the same aggregate is either published (committed) or in its own
    batch, where the broker keeps batch order per ordering key. A row whose
    predecessor another worker holds (or that a later-committing transaction wrote
    with a lower ``seq``) is left unpublished for a later batch. The read is not
    locking: another worker's uncommitted "published" mark still reads as
    unpublished, which only defers, never reorders.

    Assumes rows of one aggregate commit in ``seq`` order, which holds when the
    writer locks or version-checks the aggregate before adding to the outbox.
    """
    if not rows:
        return []
    mine = {row.seq for row in rows}
    # One range read on the partial index, no IN lists: every unpublished row below
    # our highest claimed seq. Those not ours are held by others (or committed late).
    statement = select(outbox.c.seq, outbox.c.aggregatetype, outbox.c.aggregateid).where(
        outbox.c.published_at.is_(None), outbox.c.seq < max(mine)
    )
    held_elsewhere: dict[tuple[str, str], int] = {}
    for seq, aggregatetype, aggregateid in await connection.execute(statement):
        if seq in mine:
            continue
        key = (aggregatetype, aggregateid)
        held_elsewhere[key] = min(int(seq), held_elsewhere.get(key, int(seq)))
    return [
        row
        for row in rows
        if row.aggregate not in held_elsewhere or row.seq < held_elsewhere[row.aggregate]
    ]


async def mark_published(
    connection: AsyncConnection, seqs: Sequence[int], published_at: datetime
) -> None:
    """One UPDATE for the whole batch."""
    await connection.execute(
        update(outbox).where(outbox.c.seq.in_(list(seqs))).values(published_at=published_at)
    )
