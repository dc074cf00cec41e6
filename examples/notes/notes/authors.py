"""The notes service's replica of authors' display names, fed by the user service's
``ProfileChanged`` events through the inbox.

The replica keeps the profile version it last applied and ignores an event of an
older or equal version, so a redelivery that arrives out of order never moves a
name backwards. The ``authors`` table is declared on the notes service's
metadata (it is the notes service's table).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Integer, String, Table, insert, select, update

from examples.notes.contracts import ProfileChanged, registry
from examples.notes.notes.tables import metadata
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.types import UTCDateTime, utcnow
from tidings.storage.uow import UnitOfWork

CONSUMER = "authors"

authors = Table(
    "authors",
    metadata,
    # The auth service's user id, by value (no foreign key crosses services).
    Column("user_id", String(36), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Author:
    user_id: str
    display_name: str
    profile_version: int


async def apply_profile_changed(uow: UnitOfWork, event: ProfileChanged, _: Envelope) -> None:
    """Move the replica forward to ``event.version``; an older or equal version is ignored."""
    result = await uow.execute(
        update(authors)
        .where(authors.c.user_id == event.user_id, authors.c.profile_version < event.version)
        .values(display_name=event.display_name, profile_version=event.version, updated_at=utcnow())
    )
    if getattr(result, "rowcount", 0):
        return
    known = (
        await uow.execute(select(authors.c.user_id).where(authors.c.user_id == event.user_id))
    ).first()
    if known is None:
        # Two first events of one user racing here: one insert fails with
        # IntegrityError, the consumer retries it, and the retry takes the update path.
        await uow.execute(
            insert(authors).values(
                user_id=event.user_id,
                display_name=event.display_name,
                profile_version=event.version,
                updated_at=utcnow(),
            )
        )


def authors_consumer(database: Database) -> Consumer:
    """The notes service's consumer of profile changes (queue ``notes.authors``)."""
    consumer = Consumer(CONSUMER, database, registry, service="notes")
    consumer.on(ProfileChanged, apply_profile_changed)
    return consumer


async def get_author(database: Database, user_id: str) -> Author | None:
    async with database.connect() as connection:
        row = (
            await connection.execute(select(authors).where(authors.c.user_id == user_id))
        ).first()
    if row is None:
        return None
    return Author(
        user_id=row.user_id, display_name=row.display_name, profile_version=row.profile_version
    )
