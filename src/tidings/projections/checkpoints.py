"""The checkpoint table: how far each projection has applied the event store.

One row per projection. The runner moves it in the same transaction as the
read-model rows, with a compare-and-set on the old position, so a batch applies
exactly once even when two runners, or a runner and a rebuild, race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, String, Table, delete, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.errors import IntegrityError
from tidings.storage.database import Database
from tidings.storage.library import library_metadata
from tidings.storage.types import UTCDateTime, utcnow

projection_checkpoints = Table(
    "projection_checkpoints",
    library_metadata,
    Column("name", String(200), primary_key=True),
    Column("position", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Column("status", String(20), nullable=False, default="live"),
    Column("error", String(1000), nullable=True),
)


class Status(StrEnum):
    LIVE = "live"
    """Applying events as they come (or catching up to them)."""
    FAILED = "failed"
    """A handler raised; the checkpoint stays before the failing batch."""
    REBUILDING = "rebuilding"
    """A shadow copy (``<name>__rebuild``) being filled from position 0."""
    SWAPPING = "swapping"
    """The live copy is frozen while a rebuild swaps in (backends without transactional DDL)."""


@dataclass(frozen=True)
class Checkpoint:
    name: str
    position: int
    updated_at: datetime
    status: Status
    error: str | None = None


def _to_checkpoint(row: Row[Any, Any, Any, Any, Any]) -> Checkpoint:
    return Checkpoint(
        str(row.name), int(row.position), row.updated_at, Status(row.status), row.error
    )


async def read_checkpoint(connection: AsyncConnection, name: str) -> Checkpoint | None:
    result = await connection.execute(
        select(
            projection_checkpoints.c.name,
            projection_checkpoints.c.position,
            projection_checkpoints.c.updated_at,
            projection_checkpoints.c.status,
            projection_checkpoints.c.error,
        ).where(projection_checkpoints.c.name == name)
    )
    row = result.first()
    return None if row is None else _to_checkpoint(row)


async def load_checkpoint(database: Database, name: str) -> Checkpoint | None:
    async with database.connect() as connection:
        return await read_checkpoint(connection, name)


async def all_checkpoints(database: Database) -> list[Checkpoint]:
    async with database.connect() as connection:
        result = await connection.execute(
            select(
                projection_checkpoints.c.name,
                projection_checkpoints.c.position,
                projection_checkpoints.c.updated_at,
                projection_checkpoints.c.status,
                projection_checkpoints.c.error,
            ).order_by(projection_checkpoints.c.name)
        )
        return [_to_checkpoint(row) for row in result]


async def ensure_checkpoint(database: Database, name: str, status: Status = Status.LIVE) -> None:
    """Create the row at position 0 unless it exists."""
    async with database.connect() as connection:
        if await read_checkpoint(connection, name) is not None:
            return
    try:
        async with database.transaction() as connection:
            await reset_checkpoint(connection, name, status=status, insert_only=True)
    except IntegrityError:
        pass  # another runner created it first: same row, same meaning


async def reset_checkpoint(
    connection: AsyncConnection,
    name: str,
    *,
    status: Status,
    position: int = 0,
    insert_only: bool = False,
) -> None:
    if not insert_only:
        await connection.execute(
            delete(projection_checkpoints).where(projection_checkpoints.c.name == name)
        )
    await connection.execute(
        projection_checkpoints.insert().values(
            name=name, position=position, updated_at=utcnow(), status=status.value, error=None
        )
    )


async def advance(
    connection: AsyncConnection,
    name: str,
    *,
    expected: int,
    position: int,
    status: Status = Status.LIVE,
    allowed: tuple[Status, ...] = (Status.LIVE, Status.FAILED),
) -> bool:
    """Move the checkpoint from ``expected`` to ``position``; False if someone moved it first.

    The UPDATE also takes the row lock, so it is the first statement of a batch:
    a concurrent batch or swap waits for it, then finds the position changed.
    """
    result = await connection.execute(
        update(projection_checkpoints)
        .where(
            projection_checkpoints.c.name == name,
            projection_checkpoints.c.position == expected,
            projection_checkpoints.c.status.in_([s.value for s in allowed]),
        )
        .values(position=position, updated_at=utcnow(), status=status.value, error=None)
    )
    return bool(result.rowcount == 1)


async def set_status(
    connection: AsyncConnection, name: str, status: Status, *, error: str | None = None
) -> None:
    await connection.execute(
        update(projection_checkpoints)
        .where(projection_checkpoints.c.name == name)
        .values(status=status.value, error=error[:1000] if error else None, updated_at=utcnow())
    )


async def delete_checkpoint(connection: AsyncConnection, name: str) -> None:
    await connection.execute(
        delete(projection_checkpoints).where(projection_checkpoints.c.name == name)
    )
