"""Per-aggregate order in the inbox: apply an event only after its predecessor.

A broker keeps the order of one queue, but a consumer process that crashes, or
two processes competing on one queue, can still take an aggregate's version 7
while version 6 waits unacknowledged (JetStream hands it out again only after
``ack_wait``; RabbitMQ requeues it when the connection dies, behind deliveries
already made). Ordering therefore lives where the effect commits: the inbox
keeps, per consumer and aggregate, the last version applied
(``inbox_positions``), and :func:`advance` moves it in the effect's own
transaction. An event (with ``aggregateid`` and ``aggregateversion``) is

* **in order** when its version is the last applied, or one more (several events
  of one transaction share a version), or when the consumer has applied nothing
  of the aggregate and the version is the first (1);
* **ahead** (a gap) when its version is further on, or the consumer has applied
  nothing of the aggregate yet and it is not the first: the consumer holds it back
  (hands it to the broker again, with a short delay) until its predecessor is
  applied; a gap that lasts past the consumer's bound is applied anyway and counted
  (a consumer subscribed mid-stream, or an event the producer never published);
* **late** when its version is below the last applied: its successors took effect
  already, so it goes to the dead-letter store (reason ``out_of_order``), never
  applied silently out of order and never lost.

A message the inbox already holds is a duplicate before any of this. Events
without an aggregate id or version (commands) are not ordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import false, insert, select, update

from tidings.errors import IntegrityError, ProgrammingError
from tidings.inbox.tables import MAX_ID_LENGTH, inbox_positions
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

#: The version of an aggregate's first event.
FIRST_VERSION = 1


class Position(StrEnum):
    """Where an event stands relative to the last version its consumer applied."""

    IN_ORDER = "in_order"
    AHEAD = "ahead"
    LATE = "late"


@dataclass(frozen=True)
class OrderKey:
    """An event's place in its aggregate's sequence."""

    aggregate_type: str
    aggregate_id: str
    version: int

    def describe(self) -> str:
        kind = f"{self.aggregate_type} " if self.aggregate_type else ""
        return f"version {self.version} of {kind}{self.aggregate_id}"


def order_key(envelope: Envelope) -> OrderKey | None:
    """The event's order key, or None if it is not ordered (no aggregate id or version,
    or an aggregate id or type longer than the positions table holds)."""
    if envelope.aggregateid is None or envelope.aggregateversion is None:
        return None
    aggregate_type = envelope.aggregatetype or ""
    if len(envelope.aggregateid) > MAX_ID_LENGTH or len(aggregate_type) > MAX_ID_LENGTH:
        return None
    return OrderKey(aggregate_type, envelope.aggregateid, envelope.aggregateversion)


class OutOfOrder(Exception):
    """The event cannot be applied now (ahead) or ever in order (late)."""

    def __init__(self, key: OrderKey, position: Position, last: int | None) -> None:
        self.key = key
        self.position = position
        self.last = last
        applied = "nothing of it applied" if last is None else f"version {last} applied"
        super().__init__(f"{key.describe()} is {position.value}: {applied}")


async def advance(
    uow: UnitOfWork, consumer: str, key: OrderKey, *, accept_gap: bool = False
) -> None:
    """Record ``key.version`` as ``consumer``'s last applied version of the aggregate,
    in ``uow``'s transaction; raise :class:`OutOfOrder` if the event is not in order.

    ``accept_gap`` applies an event that is ahead (the gap lasted past the bound);
    a late event is refused even then.
    """
    where = (
        inbox_positions.c.consumer == consumer,
        inbox_positions.c.aggregate_type == key.aggregate_type,
        inbox_positions.c.aggregate_id == key.aggregate_id,
    )
    lowest = 0 if accept_gap else key.version - 1
    # A conditional UPDATE rather than SELECT ... FOR UPDATE: it locks the row, and a
    # competing transaction that moved the version first makes it match nothing (on
    # PostgreSQL it re-checks the condition on the committed row, on MariaDB it reads
    # the latest committed row), so two consumers can never both take one step.
    moved = await uow.execute(
        update(inbox_positions)
        .where(*where)
        .where(inbox_positions.c.version.between(lowest, key.version))
        .values(version=key.version, applied_at=utcnow())
    )
    if getattr(moved, "rowcount", 0) == 1:
        return
    last = (await uow.execute(select(inbox_positions.c.version).where(*where))).scalar()
    if last is None:
        if key.version > FIRST_VERSION and not accept_gap:
            raise OutOfOrder(key, Position.AHEAD, None)
        try:
            # The primary key settles two first events racing in two consumers: the
            # second waits for the first to commit, then fails here and is held back.
            await uow.execute(
                insert(inbox_positions).values(
                    consumer=consumer,
                    aggregate_type=key.aggregate_type,
                    aggregate_id=key.aggregate_id,
                    version=key.version,
                    applied_at=utcnow(),
                )
            )
        except IntegrityError:
            raise OutOfOrder(key, Position.AHEAD, None) from None
        return
    last = int(last)
    if key.version < last:
        raise OutOfOrder(key, Position.LATE, last)
    # Ahead, or (read from an older snapshot) moved meanwhile: look again later.
    raise OutOfOrder(key, Position.AHEAD, last)


async def last_versions(database: Database, consumer: str) -> dict[tuple[str, str], int]:
    """``(aggregate type, aggregate id) -> last applied version`` of ``consumer``."""
    async with database.read() as connection:
        rows = await connection.execute(
            select(
                inbox_positions.c.aggregate_type,
                inbox_positions.c.aggregate_id,
                inbox_positions.c.version,
            ).where(inbox_positions.c.consumer == consumer)
        )
        return {(str(row[0]), str(row[1])): int(row[2]) for row in rows}


async def keeps_positions(database: Database) -> bool:
    """Whether ``database`` has an ``inbox_positions`` table this service's role may use
    (its migrations include :func:`tidings.inbox.ops.create_inbox_positions`)."""
    # Reading the table, rather than asking the catalog, answers for the role that will
    # write it: MariaDB hides a table from a role that holds no privilege on it, and
    # refuses the read (1142) instead of saying it is missing, so both mean "not kept".
    try:
        async with database.read() as connection:
            await connection.execute(select(inbox_positions.c.version).where(false()).limit(1))
    except ProgrammingError:
        return False
    return True
