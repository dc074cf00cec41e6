"""One service's database: a lazily opened async engine, its backend and capabilities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tidings.storage.capabilities import CAPABILITIES, Backend, Capabilities
from tidings.storage.errors import mapped_errors
from tidings.storage.urls import backend_of, hide_password, parse_url


class Database:
    """The database a service owns.

    Nothing connects until the first statement; :meth:`close` (or ``async with``)
    disposes of the pool. Every statement run through :meth:`transaction` or
    :meth:`connect` raises tidings errors, never driver ones.
    """

    def __init__(
        self,
        service: str,
        url: str | URL,
        *,
        pool_size: int = 10,
        echo: bool = False,
    ) -> None:
        self.service = service
        self.url: URL = parse_url(url, service=service)
        self.backend: Backend = backend_of(self.url, service=service)
        self.capabilities: Capabilities = CAPABILITIES[self.backend]
        self._pool_size = pool_size
        self._echo = echo
        self._engine: AsyncEngine | None = None

    def __repr__(self) -> str:
        return f"Database(service={self.service!r}, url={self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        return hide_password(self.url)

    @property
    def describe(self) -> str:
        """How errors name this database: the service and its URL, password hidden."""
        return f"service {self.service} ({self.safe_url})"

    @property
    def is_open(self) -> bool:
        """Whether a pool exists now (the first statement opens it, :meth:`close` ends it)."""
        return self._engine is not None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> AsyncEngine:
        options: dict[str, Any] = {"echo": self._echo}
        if self.backend is Backend.SQLITE:
            # One file, one writer: a pool only adds "database is locked" errors.
            options["poolclass"] = NullPool
            options["connect_args"] = {"timeout": 30}
        else:
            options["pool_size"] = self._pool_size
            options["max_overflow"] = self._pool_size
            # No pre-ping: on asyncpg it costs three round trips per checkout (measured:
            # appends 1.2x faster from one writer, 1.7x from eight without it). A
            # connection broken by a server restart fails its first statement, the
            # pool is invalidated, and callers (relays, consumers) retry with backoff.
            options["pool_pre_ping"] = False
            options["pool_recycle"] = 1800
        if self.backend is Backend.MARIADB:
            # READ COMMITTED as on PostgreSQL, so a reader sees rows committed after it began.
            options["isolation_level"] = "READ COMMITTED"
        engine = create_async_engine(self.url, **options)
        if self.backend is Backend.SQLITE:
            _configure_sqlite(engine)
        return engine

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit-free mode; the caller commits."""
        with mapped_errors(self.describe):
            async with self.engine.connect() as connection:
                yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, each statement on its own (autocommit).

        On SQLite it takes no lock, so it never waits behind an open unit of work.
        """
        with mapped_errors(self.describe):
            async with self.engine.connect() as connection:
                reader = await connection.execution_options(isolation_level="AUTOCOMMIT")
                yield reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: committed on exit, rolled back on error."""
        with mapped_errors(self.describe):
            async with self.engine.begin() as connection:
                yield connection

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE.

    pysqlite's deferred BEGIN lets two transactions both read and then fail to
    upgrade to a write lock; taking the write lock at BEGIN makes concurrent
    writers queue behind the busy timeout instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # An AUTOCOMMIT connection is a reader: under WAL it needs no lock at all, and
        # taking the write lock would make it wait behind this process's own open writer.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")
