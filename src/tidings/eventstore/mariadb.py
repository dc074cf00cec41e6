"""The event store on MariaDB: writer slots instead of one global lock.

MariaDB has no transaction-id visibility to ask, and AUTO_INCREMENT hands out
positions in allocation order, not commit order. So a reader must know that no
transaction that allocated a position below the one it returns is still open.

**The protocol.**

* A writer first locks one row of ``event_writers`` (its *slot*) exclusively,
  ``FOR UPDATE SKIP LOCKED``, then inserts its events, and keeps the slot until it
  commits or rolls back. Writers skip each other's slots, so they never wait for
  one another (with more than :data:`~.schema.WRITER_SLOTS` concurrent writers some
  share a slot).
* A reader that wants a safe head (1) reads ``MAX(position)`` of the committed rows,
  ``L``, and then (2) takes a shared lock on every slot, which waits for every writer
  that held a slot at step 1, and releases them at once. Every position ``<= L`` was
  allocated before ``L`` committed, by a writer that already held its slot; after
  step 2 all those writers have ended, so every position ``<= L`` is final.

The reader's wait blocks no writer: a writer looking for a slot skips the locked
ones. The slot is preferably ``CONNECTION_ID() % WRITER_SLOTS``, so
:meth:`MariaDBEventStore.blocking_transactions` can tell which session holds it.
When a transaction stays open past ``hold_timeout`` the reader gives up waiting
and serves only what it knew to be safe before (readers are held back, never
wrong).

The guard-row alternative (writers share-lock one row, readers lock it
exclusively) is simpler but worse: a reader queued for the exclusive lock makes
every new writer queue behind it, so one long transaction would stop all writers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.errors import OperationalError
from tidings.eventstore._sql import SQLEventStore, insert_checked, recorded_from_row
from tidings.eventstore.base import AppendResult, NewEvent, RecordedEvent
from tidings.eventstore.diagnostics import BlockingTransaction
from tidings.eventstore.schema import WRITER_SLOTS, events
from tidings.storage.database import Database
from tidings.storage.errors import mapped_errors
from tidings.storage.uow import UnitOfWork

_SLOT_CLAIMED = "tidings.eventstore.writer_slot"

_OWN_SLOT = text(
    f"SELECT id FROM event_writers WHERE id = CONNECTION_ID() % {WRITER_SLOTS} "
    "FOR UPDATE SKIP LOCKED"
)
_ANY_SLOT = text("SELECT id FROM event_writers ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
# Every slot taken (more writers than slots): queue for our own.
_WAIT_FOR_SLOT = text(
    f"SELECT id FROM event_writers WHERE id = CONNECTION_ID() % {WRITER_SLOTS} FOR UPDATE"
)
_COMMITTED_HEAD = text("SELECT COALESCE(MAX(position), 0) FROM events")
_FREE_SLOTS = text("SELECT id FROM event_writers LOCK IN SHARE MODE SKIP LOCKED")
_TRANSACTIONS = text(
    "SELECT t.trx_id, t.trx_mysql_thread_id AS thread, t.trx_started, t.trx_state, "
    "TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6 AS age, "
    "LEFT(COALESCE(t.trx_query, ''), 300) AS query, p.DB AS db, p.USER AS user "
    "FROM information_schema.INNODB_TRX AS t "
    "LEFT JOIN information_schema.PROCESSLIST AS p ON p.ID = t.trx_mysql_thread_id"
)


def _is_lock_timeout(error: OperationalError) -> bool:
    return "Lock wait timeout" in str(error) or "1205" in str(error)


class MariaDBEventStore(SQLEventStore):
    """The event store on MariaDB (see the module docstring for the slot protocol)."""

    def __init__(self, database: Database, *, hold_timeout: int = 2) -> None:
        super().__init__(database)
        self.hold_timeout = hold_timeout
        """Seconds a reader waits for open writers before serving the last safe head."""
        self._known_safe = 0

    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        uow: UnitOfWork | None,
    ) -> AppendResult:
        async with self.writing(uow) as connection:
            if uow is None or not uow.info.get(_SLOT_CLAIMED):
                await self._claim_slot(connection)
                if uow is not None:
                    uow.info[_SLOT_CLAIMED] = True
            return await insert_checked(connection, stream_id, events, expected_version)

    @staticmethod
    async def _claim_slot(connection: AsyncConnection) -> None:
        # The slot must be held before the insert allocates a position: that order is
        # what lets a reader's wait on the slots cover every allocated position.
        for statement in (_OWN_SLOT, _ANY_SLOT, _WAIT_FOR_SLOT):
            if (await connection.execute(statement)).first() is not None:
                return

    async def _safe_head(self) -> int:
        """The highest position below which every position is final (see the protocol)."""
        with mapped_errors(self.database.describe):
            async with self.database.engine.connect() as connection:
                committed = int((await connection.execute(_COMMITTED_HEAD)).scalar_one())
                await connection.commit()
                if committed <= self._known_safe:
                    return self._known_safe
                try:
                    with mapped_errors(self.database.describe):
                        await connection.execute(
                            text(
                                "SELECT id FROM event_writers LOCK IN SHARE MODE "
                                f"WAIT {int(self.hold_timeout)}"
                            )
                        )
                except OperationalError as error:
                    if not _is_lock_timeout(error):
                        raise
                    await connection.rollback()
                    return self._known_safe
                await connection.commit()
        self._known_safe = max(self._known_safe, committed)
        return self._known_safe

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        # A head once safe stays safe: a reader still below it needs no new wait on the
        # slots, so a catch-up pages through without locking anything.
        safe = self._known_safe
        if after_position >= safe:
            safe = await self._safe_head()
        if safe <= after_position:
            return []
        query = (
            select(events)
            .where(events.c.position > after_position, events.c.position <= safe)
            .order_by(events.c.position)
            .limit(limit)
        )
        async with self.reading() as connection:
            rows = (await connection.execute(query)).all()
        return [recorded_from_row(row) for row in rows]

    async def head_position(self) -> int:
        return await self._safe_head()

    async def committed_above(self, position: int) -> int:
        query = select(func.count()).select_from(events).where(events.c.position > position)
        async with self.reading() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def blocking_transactions(self) -> list[BlockingTransaction]:
        """Sessions that hold a writer slot (an append not yet committed), oldest first.

        Needs the PROCESS privilege to see other sessions' transactions; without it
        the list is empty.
        """
        async with self.database.transaction() as connection:
            free = {int(row.id) for row in (await connection.execute(_FREE_SLOTS)).all()}
        held = set(range(WRITER_SLOTS)) - free
        if not held:
            return []
        async with self.reading() as connection:
            rows = (await connection.execute(_TRANSACTIONS)).all()
        blockers = [
            BlockingTransaction(
                connection_id=int(row.thread),
                transaction_id=str(row.trx_id),
                started_at=None,
                age_seconds=float(row.age or 0.0),
                state=str(row.trx_state or ""),
                query=str(row.query or ""),
                database=row.db,
                user=row.user,
            )
            for row in rows
            if int(row.thread) % WRITER_SLOTS in held
        ]
        return sorted(blockers, key=lambda blocker: -blocker.age_seconds)
