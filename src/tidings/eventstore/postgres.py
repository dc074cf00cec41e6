"""The event store on PostgreSQL: a global order from transaction ids, no global lock.

**The guarantee.** A row trigger (:mod:`.schema`) gives every event the position
``xid * 2^20 + n``: ``xid`` is the writing transaction's 64-bit id
(``pg_current_xact_id()``), ``n`` counts the transaction's events. PostgreSQL hands
out transaction ids in increasing order, so a transaction still in flight, or one
not yet begun, can only ever write positions at or above ``xid * 2^20`` of its own
id. The reader's *watermark* is the lowest id that may still write here: the lowest
id the statement's own snapshot lists as running (``pg_snapshot_xip``), or, if none,
the snapshot's ``xmax`` (the next id to be handed out). Every position below
``watermark * 2^20`` is final: its transaction ended before this snapshot, so the
row is committed and visible in this very statement, or it never will be.
:meth:`read_all` returns only positions below the watermark. A transaction that
wrote a lower position but commits after a higher one keeps the watermark at its
id until it ends; nothing is skipped, and writers never wait for each other.

Transaction ids are server-wide, so the snapshot also lists transactions in other
databases on the same server. Those that ``pg_stat_activity`` shows connected to
another database cannot write this table and do not hold the watermark back; any
id that cannot be placed (a session that just ended, a prepared transaction, a
role not allowed to see it) is kept, which is safe: it can only hold readers back.

The price: positions are sparse (gaps of about 2^20 between transactions), so
"how far behind" is counted in events or seconds, not by subtracting positions; and
a transaction left open in this database holds every reader back until it ends,
which :meth:`blocking_transactions` reports. 2^20 events fit in one transaction;
2^43 transaction ids fit in a signed 64-bit position (decades at 10,000
transactions a second).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, TextClause, func, literal_column, select, text

from tidings.errors import ConcurrencyError
from tidings.eventstore._asyncpg import COLUMNS, fetch, fetch_records
from tidings.eventstore._sql import SQLEventStore, new_event_id
from tidings.eventstore.base import AppendResult, NewEvent, RecordedEvent
from tidings.eventstore.diagnostics import BlockingTransaction
from tidings.eventstore.schema import events
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

# The lowest transaction id that may still write this table, from the statement's own
# snapshot (see the module docstring): running ids, minus those of sessions in other
# databases, else the snapshot's xmax. backend_xid is the 32-bit form of an xid8.
_WATERMARK = """(
    SELECT coalesce(
        min(running.xid::text::bigint),
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
    FROM pg_snapshot_xip(pg_current_snapshot()) AS running(xid)
    WHERE (running.xid::text::bigint % 4294967296)::text NOT IN (
        SELECT backend_xid::text FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datname <> current_database())
)"""
SAFE_BELOW = literal_column(f"({_WATERMARK} << 20)", BigInteger)
"""Every position below this is final, and visible in the same statement."""

_INSERT = """
INSERT INTO events (event_id, stream_id, stream_version, type, schema_version,
                    data, metadata, recorded_at)
SELECT e.event_id, CAST({p1} AS varchar), base.version + e.n, e.type, e.schema_version,
       CAST(e.data AS json), CAST(e.metadata AS json), CAST({p3} AS timestamptz)
FROM ({base}) AS base(version),
     unnest(CAST({p4} AS text[]), CAST({p5} AS text[]), CAST({p6} AS integer[]),
            CAST({p7} AS text[]), CAST({p8} AS text[]))
       WITH ORDINALITY AS e(event_id, type, schema_version, data, metadata, n)
WHERE {check}
ORDER BY e.n
RETURNING position, stream_version
"""
# expected_version = k ({p2}): the new events are k+1, k+2, ...; the unique index refuses
# them if the stream is past k, the EXISTS finds nothing if it has not reached k.
_AT_VERSION = _INSERT.replace("{base}", "SELECT CAST({p2} AS integer)").replace(
    "{check}",
    "CAST({p2} AS integer) = 0 OR EXISTS (SELECT 1 FROM events "
    "WHERE stream_id = CAST({p1} AS varchar) AND stream_version = CAST({p2} AS integer))",
)
# Any version: after the newest; a racing writer makes the unique index refuse us.
# ({p2} is NULL here; it is named only because asyncpg wants every argument used.)
_AT_ANY_VERSION = _INSERT.replace(
    "{base}",
    "SELECT coalesce(max(stream_version), 0) FROM events "
    "WHERE stream_id = CAST({p1} AS varchar) AND CAST({p2} AS integer) IS NULL",
).replace("{check}", "true")


def _numbered(sql: str) -> str:
    """asyncpg's own placeholders, for statements sent straight to the driver."""
    return sql.format(**{f"p{n}": f"${n}" for n in range(1, 9)})


def _named(sql: str) -> TextClause:
    """SQLAlchemy's named placeholders, for statements run in a caller's transaction."""
    return text(sql.format(**{f"p{n}": f":p{n}" for n in range(1, 9)}))


_DIRECT = {True: _numbered(_AT_VERSION), False: _numbered(_AT_ANY_VERSION)}
_IN_TRANSACTION = {True: _named(_AT_VERSION), False: _named(_AT_ANY_VERSION)}

# The first ``limit`` events after ``position``, then those below the watermark: the
# same rows as filtering first, since every event below the watermark precedes every
# event above it. Written so because the planner estimates a one-sided range from the
# index, where the two-sided one falls back to a fixed guess: on a table whose
# statistics lag (a bulk import, a fresh store) it then picked a bitmap scan of every
# later event plus a sort for each page, and a catch-up cost the square of its length.
_READ_ALL = f"""
SELECT * FROM (
    SELECT {COLUMNS} FROM events
    WHERE position > $1
    ORDER BY position
    LIMIT $2
) AS page
WHERE position < ({_WATERMARK} << 20)
ORDER BY position
"""

# Running transactions in this database (or not placed in any) older than the newest
# committed event: each holds that event back until it ends.
_BLOCKERS = text(
    """
SELECT a.pid, a.datname, a.usename, a.state, a.xact_start,
       extract(epoch FROM clock_timestamp() - a.xact_start) AS age,
       left(coalesce(a.query, ''), 300) AS query, r.xid::text AS xid
FROM pg_snapshot_xip(pg_current_snapshot()) AS r(xid)
JOIN pg_stat_activity AS a
  ON a.backend_xid::text = (r.xid::text::bigint % 4294967296)::text
WHERE r.xid::text::bigint < (SELECT coalesce(max(position) >> 20, 0) FROM events)
  AND a.datname = current_database()
ORDER BY r.xid::text::bigint
"""
)


class PostgresEventStore(SQLEventStore):
    """The event store on PostgreSQL (see the module docstring for the ordering)."""

    conflict_aborts_transaction: ClassVar[bool] = True

    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        uow: UnitOfWork | None,
    ) -> AppendResult:
        arguments = (
            stream_id,
            expected_version,
            utcnow(),
            [new_event_id(event) for event in events],
            [event.type for event in events],
            [event.schema_version for event in events],
            [json.dumps(event.data) for event in events],
            [json.dumps(event.metadata) for event in events],
        )
        at_version = expected_version is not None
        if uow is not None:
            # Through SQLAlchemy, which has begun the caller's transaction on this connection.
            parameters = {f"p{n}": value for n, value in enumerate(arguments, start=1)}
            result = await uow.execute(_IN_TRANSACTION[at_version], parameters)
            rows: list[Any] = [tuple(row) for row in result.all()]
        else:
            # One statement is its own transaction: no BEGIN and COMMIT round trips, and
            # straight to the driver (SQLAlchemy's statement handling costs as much).
            async with self.reading() as connection:
                rows = await fetch_records(
                    connection, _DIRECT[at_version], arguments, self.database.describe
                )
        if not rows:
            actual = await self.stream_version(stream_id)
            raise ConcurrencyError(f"stream {stream_id}", expected_version, actual)
        ordered = sorted(rows, key=lambda row: int(row[1]))
        return AppendResult(
            stream_version=int(ordered[-1][1]),
            positions=tuple(int(row[0]) for row in ordered),
        )

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        async with self.reading() as connection:
            return await fetch(
                connection, _READ_ALL, (after_position, limit), self.database.describe
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
        arguments: list[Any] = [stream_id, after_version]
        sql = f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2"
        for column, bound in (
            ("stream_version", to_version),
            ("position", to_position),
            ("recorded_at", to_time),
        ):
            if bound is not None:
                arguments.append(bound)
                sql += f" AND {column} <= ${len(arguments)}"
        async with self.reading() as connection:
            return await fetch(
                connection, sql + " ORDER BY stream_version", arguments, self.database.describe
            )

    async def head_position(self) -> int:
        query = select(func.coalesce(func.max(events.c.position), 0)).where(
            events.c.position < SAFE_BELOW
        )
        async with self.reading() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def committed_above(self, position: int) -> int:
        """How many committed events have a position above ``position``."""
        query = select(func.count()).select_from(events).where(events.c.position > position)
        async with self.reading() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def blocking_transactions(self) -> list[BlockingTransaction]:
        """Open transactions that hold back committed events, oldest first."""
        async with self.reading() as connection:
            rows = (await connection.execute(_BLOCKERS)).all()
        return [
            BlockingTransaction(
                connection_id=int(row.pid),
                transaction_id=str(row.xid),
                started_at=row.xact_start,
                age_seconds=float(row.age or 0.0),
                state=str(row.state or ""),
                query=str(row.query),
                database=row.datname,
                user=row.usename,
            )
            for row in rows
        ]
