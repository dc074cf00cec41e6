"""The in-process broker's durable record: queues, bindings and dead letters in SQLite.

All statements run on one thread that owns the connection. Writes submitted
while a transaction is being committed are grouped into the next one, so many
concurrent acks cost one commit. WAL with ``synchronous=NORMAL`` survives a
crash of the process (what the embedded mode needs), not a power cut.
``locking_mode=EXCLUSIVE`` keeps a second process from opening the same file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

log = logging.getLogger("tidings.brokers.memory")

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], object]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS broker_bindings (
        namespace TEXT NOT NULL, queue TEXT NOT NULL, pattern TEXT NOT NULL,
        PRIMARY KEY (namespace, queue, pattern))""",
    """CREATE TABLE IF NOT EXISTS broker_messages (
        seq INTEGER PRIMARY KEY, namespace TEXT NOT NULL, queue TEXT NOT NULL,
        message_id TEXT NOT NULL, topic TEXT NOT NULL, body BLOB NOT NULL,
        headers TEXT NOT NULL, ordering_key TEXT, deliveries INTEGER NOT NULL,
        available_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS broker_dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, queue TEXT NOT NULL,
        message_id TEXT NOT NULL, topic TEXT NOT NULL, body BLOB NOT NULL,
        headers TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL,
        dead_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS broker_dead_letters_queue"
    " ON broker_dead_letters (namespace, queue, id)",
)


class SQLiteJournal:
    """A SQLite file (or ``:memory:``) written through one thread with group commit."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._pending: list[tuple[Operation, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-broker")
        self._connection = await self._run(self._connect)

    def _connect(self) -> sqlite3.Connection:
        # A short busy timeout: the only other holder can be a second broker on the same file.
        connection = sqlite3.connect(self.path, timeout=0.5, check_same_thread=False)
        try:
            if self.path != ":memory:":
                connection.execute("PRAGMA locking_mode=EXCLUSIVE")
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            with connection:
                for statement in SCHEMA:
                    connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    async def _run(self, function: Callable[[], T]) -> T:
        if self._executor is None:
            raise sqlite3.ProgrammingError("the broker journal is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def read(self, function: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._require()
        return await self._run(lambda: function(connection))

    def _require(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("the broker journal is closed")
        return self._connection

    def submit(self, operation: Operation) -> asyncio.Future[None]:
        """Queue ``operation`` for the next commit; the future resolves once committed."""
        self._require()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((operation, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        return future

    async def write(self, operation: Operation) -> None:
        await self.submit(operation)

    def write_soon(self, operation: Operation) -> None:
        """Like :meth:`write` without waiting; a failure is logged."""
        self.submit(operation).add_done_callback(_log_failure)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            connection = self._require()
            try:
                operations = [operation for operation, _ in batch]
                await self._run(partial(_apply, connection, operations))
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._run(connection.close)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


def _apply(connection: sqlite3.Connection, operations: list[Operation]) -> None:
    with connection:
        for operation in operations:
            operation(connection)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("broker journal write failed: %s", future.exception())
