"""The event store on MariaDB: writer slots instead of one global lock.

MariaDB has no transaction-id visibility to ask, and AUTO_INCREMENT hands out
positions in allocation order, not commit order. So a reader must know that no
transaction that allocated a position below the one it returns is still open.

**The protocol.**

* A writer first locks one row of ``event_writers`` (its *slot*) exclusively,
  ``FOR UPDATE SKIP LOCKED``, then inserts its events, writes the first position it
  took into the slot's ``since`` (uncommitted, like its events), and keeps the slot
  until it commits or rolls back. Writers skip each other's slots, so they never
  wait for one another (with more than :data:`~.schema.WRITER_SLOTS` concurrent
  writers some share a slot, one after the other).
* A reader that wants a safe head (1) reads ``MAX(position)`` of the committed rows,
  ``L``; (2) finds the slots held now (``LOCK IN SHARE MODE SKIP LOCKED`` returns
  the free ones, and holds them only for that one statement); (3) reads the held
  slots' ``since`` at READ UNCOMMITTED, which shows a holder's mark before it
  commits. Every position ``<= L`` was allocated before step 1 by a writer that
  already held its slot: if that writer has ended by step 2 the position is final;
  if not, its slot is held and its ``since`` is at most its first position (a
  holder that has not marked yet still shows an earlier holder's smaller mark).
  So every position below the smallest such ``since`` (and ``<= L``) is final: that
  is the safe head, and it is the true one, the position before the oldest open
  append.
* Only when an open writer keeps the head below ``L`` does the reader wait for it,
  once, at most ``hold_timeout`` seconds (a shared lock on its slot): appends are
  short, so this usually returns ``L`` a moment later. A writer still open after
  that is remembered and not waited for again; readers serve the events below it.

The reader's wait blocks no writer: a writer looking for a slot skips the locked
ones. The slot is preferably ``CONNECTION_ID() % WRITER_SLOTS``, so
:meth:`MariaDBEventStore.blocking_transactions` can tell which session holds it.

The guard-row alternative (writers share-lock one row, readers lock it
exclusively) is simpler but worse: a reader queued for the exclusive lock makes
every new writer queue behind it, so one long transaction would stop all writers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.errors import LockConflict
from tidings.eventstore._sql import SQLEventStore, insert_checked, recorded_from_row
from tidings.eventstore.base import AppendResult, NewEvent, RecordedEvent
from tidings.eventstore.diagnostics import BlockingTransaction
from tidings.eventstore.schema import WRITER_SLOTS, events
from tidings.storage.database import Database
from tidings.storage.errors import mapped_errors
from tidings.storage.uow import UnitOfWork

_SLOT_CLAIMED = "tidings.eventstore.writer_slot"
_SLOT_MARKED = "tidings.eventstore.writer_slot_marked"

_OWN_SLOT = text(
    f"SELECT id FROM event_writers WHERE id = CONNECTION_ID() % {WRITER_SLOTS} "
    "FOR UPDATE SKIP LOCKED"
)
_ANY_SLOT = text("SELECT id FROM event_writers ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
# Every slot taken (more writers than slots): queue for our own.
_WAIT_FOR_SLOT = text(
    f"SELECT id FROM event_writers WHERE id = CONNECTION_ID() % {WRITER_SLOTS} FOR UPDATE"
)
# Written in the writer's own transaction: readers see it only at READ UNCOMMITTED.
_MARK_SLOT = text("UPDATE event_writers SET since = :since WHERE id = :slot")
_COMMITTED_HEAD = text("SELECT COALESCE(MAX(position), 0) FROM events")
# In autocommit each statement is its own transaction, so the shared locks this takes
# on free slots last one statement: a writer looking for a slot skips them meanwhile.
_FREE_SLOTS = text("SELECT id FROM event_writers LOCK IN SHARE MODE SKIP LOCKED")
_DIRTY_READS = text("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
_COMMITTED_READS = text("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
_TRANSACTIONS = text(
    "SELECT t.trx_id, t.trx_mysql_thread_id AS thread, t.trx_started, t.trx_state, "
    "TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6 AS age, "
    "LEFT(COALESCE(t.trx_query, ''), 300) AS query, p.DB AS db, p.USER AS user "
    "FROM information_schema.INNODB_TRX AS t "
    "LEFT JOIN information_schema.PROCESSLIST AS p ON p.ID = t.trx_mysql_thread_id"
)


class MariaDBEventStore(SQLEventStore):
    """The event store on MariaDB (see the module docstring for the slot protocol)."""

    def __init__(self, database: Database, *, hold_timeout: int = 2) -> None:
        super().__init__(database)
        self.hold_timeout = hold_timeout
        """Seconds a reader waits, once, for an open writer before serving the events
        below it."""
        self._known_safe = 0
        self._stuck: set[tuple[int, int]] = set()
        """(slot, since) of holders already waited for in vain."""

    async def _append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        uow: UnitOfWork | None,
    ) -> AppendResult:
        async with self.writing(uow) as connection:
            info = uow.info if uow is not None else {}
            slot = info.get(_SLOT_CLAIMED)
            if slot is None:
                slot = await self._claim_slot(connection)
                info[_SLOT_CLAIMED] = slot
            result = await insert_checked(connection, stream_id, events, expected_version)
            if not info.get(_SLOT_MARKED):
                # The first position this transaction took: what a reader that cannot
                # wait for us may serve up to (later appends in it only go higher).
                await connection.execute(
                    _MARK_SLOT, {"since": min(result.positions), "slot": int(slot)}
                )
                info[_SLOT_MARKED] = True
            return result

    @staticmethod
    async def _claim_slot(connection: AsyncConnection) -> int:
        # The slot must be held before the insert allocates a position: that order is
        # what lets a reader's look at the slots cover every allocated position.
        for statement in (_OWN_SLOT, _ANY_SLOT, _WAIT_FOR_SLOT):
            row = (await connection.execute(statement)).first()
            if row is not None:
                return int(row[0])
        raise AssertionError("event_writers has no slots")  # pragma: no cover

    async def _safe_head(self) -> int:
        """The highest position below which every position is final (see the protocol)."""
        async with self.reading() as connection:
            committed = int((await connection.execute(_COMMITTED_HEAD)).scalar_one())
            if committed <= self._known_safe:
                return self._known_safe
            free = {int(row[0]) for row in (await connection.execute(_FREE_SLOTS)).all()}
            held = sorted(set(range(WRITER_SLOTS)) - free)
            open_below = await self._marks(connection, held, committed) if held else {}
            safe = committed
            if open_below:
                safe = min(committed, min(open_below.values()) - 1)
                waited = set(open_below.items())
                if self.hold_timeout > 0 and not waited <= self._stuck:
                    if await self._wait_for(connection, sorted(open_below)):
                        safe = committed
                    else:
                        self._stuck |= waited
        self._known_safe = max(self._known_safe, safe)
        # A holder readers have passed no longer matters.
        self._stuck = {(slot, mark) for slot, mark in self._stuck if mark > self._known_safe}
        return self._known_safe

    @staticmethod
    async def _marks(connection: AsyncConnection, held: list[int], head: int) -> dict[int, int]:
        """The held slots whose holder may have a position ``<= head``, with their marks."""
        slots = ", ".join(str(slot) for slot in held)
        await connection.execute(_DIRTY_READS)
        try:
            rows = (
                await connection.execute(
                    text(f"SELECT id, since FROM event_writers WHERE id IN ({slots})")
                )
            ).all()
        finally:
            await connection.execute(_COMMITTED_READS)
        return {int(row[0]): int(row[1]) for row in rows if int(row[1]) <= head}

    async def _wait_for(self, connection: AsyncConnection, slots: list[int]) -> bool:
        """Wait until the holders of ``slots`` end; False after ``hold_timeout``."""
        listed = ", ".join(str(slot) for slot in slots)
        try:
            with mapped_errors(self.database.describe):
                await connection.execute(
                    text(
                        f"SELECT id FROM event_writers WHERE id IN ({listed}) "
                        f"LOCK IN SHARE MODE WAIT {int(self.hold_timeout)}"
                    )
                )
        except LockConflict:
            return False
        return True

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
