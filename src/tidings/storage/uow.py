"""The unit of work: one database transaction in which a service's business rows,
outbox rows, inbox rows and event rows commit together, or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from tidings.storage.database import Database
from tidings.storage.errors import mapped_errors

AfterCommit = Callable[[], Awaitable[None] | None]


class UnitOfWork:
    """A transaction on one service's database.

    Library calls that must be atomic with business rows take the unit of work
    as their first argument (``outbox.add(uow, event)``, ``inbox.record(uow, ...)``),
    so atomicity is visible in the signature. Callbacks registered with
    :meth:`after_commit` run only once the transaction has committed.
    """

    def __init__(self, database: Database, connection: AsyncConnection) -> None:
        self.database = database
        self.connection = connection
        self._after_commit: list[AfterCommit] = []
        self.info: dict[str, Any] = {}

    @property
    def service(self) -> str:
        return self.database.service

    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[Any] | Result[Any]:
        with mapped_errors(self.database.describe):
            return await self.connection.execute(statement, parameters)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def _run_after_commit(self) -> None:
        for callback in self._after_commit:
            outcome = callback()
            if outcome is not None:
                await outcome


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
    """Open a unit of work; commit when the block ends, roll back if it raises."""
    async with database.transaction() as connection:
        uow = UnitOfWork(database, connection)
        yield uow
    await uow._run_after_commit()
