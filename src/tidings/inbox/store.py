"""The dead-letter store: messages a consumer gave up on, kept whole for repair.

Each dead letter has its own id (a message that could not be parsed has no
message id), the consumer, why it was given up (:class:`Reason`) and the error,
and the original bytes and headers exactly as delivered, so that a replay
(:func:`tidings.inbox.replay`) feeds the consumer the very same message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, insert, select, update

from tidings.errors import NotFound
from tidings.inbox.tables import dead_letters
from tidings.storage.database import Database
from tidings.storage.types import utcnow

# MariaDB's TEXT holds 64 KiB; a traceback-sized message is plenty for repair.
MAX_ERROR_LENGTH = 8000


class Reason(StrEnum):
    """Why a consumer gave a message up."""

    MALFORMED = "malformed"
    """The bytes are not a CloudEvents envelope, or the id is missing."""
    UNKNOWN_TYPE = "unknown_type"
    """No model is registered for the type (and schema version)."""
    INVALID = "invalid"
    """The data failed the model's validation."""
    REJECTED = "rejected"
    """The handler itself declared the message unprocessable (raised a MessageError)."""
    FAILED = "failed"
    """The handler kept failing until the retry policy gave up."""
    OUT_OF_ORDER = "out_of_order"
    """A later version of its aggregate was applied first (see :mod:`tidings.inbox.ordering`)."""


@dataclass(frozen=True)
class DeadLetter:
    id: str
    consumer: str
    message_id: str | None
    message_type: str | None
    topic: str | None
    reason: str
    error: str
    attempts: int
    body: bytes
    headers: Mapping[str, str]
    failed_at: datetime
    replayed_at: datetime | None
    replay_outcome: str | None


def _from_row(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        consumer=row.consumer,
        message_id=row.message_id,
        message_type=row.message_type,
        topic=row.topic,
        reason=row.reason,
        error=row.error,
        attempts=row.attempts,
        body=bytes(row.body),
        headers=dict(row.headers or {}),
        failed_at=row.failed_at,
        replayed_at=row.replayed_at,
        replay_outcome=row.replay_outcome,
    )


async def store_dead_letter(
    database: Database,
    *,
    consumer: str,
    reason: Reason,
    error: str,
    body: bytes,
    headers: Mapping[str, str],
    attempts: int,
    message_id: str | None = None,
    message_type: str | None = None,
    topic: str | None = None,
) -> str:
    """Store a dead letter in its own transaction; return its id."""
    dead_letter_id = str(uuid.uuid4())
    async with database.transaction() as connection:
        await connection.execute(
            insert(dead_letters).values(
                id=dead_letter_id,
                consumer=consumer,
                message_id=message_id,
                message_type=message_type,
                topic=topic[:255] if topic is not None else None,
                reason=reason.value,
                error=error[:MAX_ERROR_LENGTH],
                attempts=attempts,
                body=body,
                headers={str(key): str(value) for key, value in headers.items()},
                failed_at=utcnow(),
            )
        )
    return dead_letter_id


async def list_dead_letters(
    database: Database,
    *,
    consumer: str | None = None,
    include_replayed: bool = True,
    limit: int = 100,
) -> list[DeadLetter]:
    """Dead letters, newest first."""
    statement = select(dead_letters).order_by(dead_letters.c.failed_at.desc(), dead_letters.c.id)
    if consumer is not None:
        statement = statement.where(dead_letters.c.consumer == consumer)
    if not include_replayed:
        statement = statement.where(dead_letters.c.replayed_at.is_(None))
    async with database.transaction() as connection:
        rows = await connection.execute(statement.limit(limit))
        return [_from_row(row) for row in rows]


async def count_dead_letters(database: Database, *, consumer: str | None = None) -> int:
    statement = select(dead_letters.c.id)
    if consumer is not None:
        statement = statement.where(dead_letters.c.consumer == consumer)
    async with database.transaction() as connection:
        return len((await connection.execute(statement)).all())


async def get_dead_letter(database: Database, dead_letter_id: str) -> DeadLetter:
    """The dead letter with this id; :class:`~tidings.errors.NotFound` if there is none."""
    async with database.transaction() as connection:
        row = (
            await connection.execute(
                select(dead_letters).where(dead_letters.c.id == dead_letter_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"{database.describe}: no dead letter {dead_letter_id}")
    return _from_row(row)


async def mark_replayed(database: Database, dead_letter_id: str, outcome: str) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            update(dead_letters)
            .where(dead_letters.c.id == dead_letter_id)
            .values(replayed_at=utcnow(), replay_outcome=outcome[:40])
        )


async def purge_dead_letters(
    database: Database,
    *,
    ids: Sequence[str] | None = None,
    older_than: timedelta | None = None,
    consumer: str | None = None,
) -> int:
    """Delete the dead letters named by ``ids``, or failed more than ``older_than`` ago.

    One of ``ids`` and ``older_than`` is required, so that a slip never empties the
    store; ``timedelta(0)`` deletes them all. Returns how many were deleted.
    """
    if ids is None and older_than is None:
        raise ValueError("purge needs ids or older_than")
    statement = delete(dead_letters)
    if ids is not None:
        if not ids:
            return 0
        statement = statement.where(dead_letters.c.id.in_(list(ids)))
    if older_than is not None:
        statement = statement.where(dead_letters.c.failed_at <= utcnow() - older_than)
    if consumer is not None:
        statement = statement.where(dead_letters.c.consumer == consumer)
    async with database.transaction() as connection:
        result = await connection.execute(statement)
        return int(result.rowcount)
