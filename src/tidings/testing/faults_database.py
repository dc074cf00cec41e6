"""A database transaction held open on purpose: a slow writer, a lock held long."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.storage.database import Database


@asynccontextmanager
async def open_transaction(
    database: Database, *statements: Executable, commit: bool = False
) -> AsyncIterator[AsyncConnection]:
    """Begin a transaction, run ``statements`` in it (e.g. a ``SELECT ... FOR UPDATE``
    that takes row locks, or an insert whose commit comes late) and keep it open
    until the block ends; then roll back, or commit with ``commit=True``."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            for statement in statements:
                await connection.execute(statement)
            yield connection
        except BaseException:
            await transaction.rollback()
            raise
        if commit:
            await transaction.commit()
        else:
            await transaction.rollback()


async def hold_transaction(
    database: Database, seconds: float, *statements: Executable, commit: bool = False
) -> None:
    """:func:`open_transaction` for ``seconds`` (run it as a task beside the system)."""
    async with open_transaction(database, *statements, commit=commit):
        await asyncio.sleep(seconds)  # holding it this long is the fault itself
