"""What the notes service does: create, edit and list notes (optimistic locking on edits)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select

from examples.notes.notes.tables import notes
from tidings import audit
from tidings.errors import NotFound
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work


@dataclass(frozen=True)
class Note:
    id: str
    user_id: str
    content: str
    version: int


async def create_note(db: Database, user_id: str, content: str) -> Note:
    note = Note(id=str(uuid.uuid4()), user_id=user_id, content=content, version=1)
    now = utcnow()
    async with unit_of_work(db) as uow:
        await uow.execute(
            insert(notes).values(
                id=note.id,
                user_id=user_id,
                content=content,
                created_at=now,
                version=1,
                updated_at=now,
            )
        )
        await audit.record(uow, action="create", entity="note", entity_id=note.id, actor=user_id)
    return note


async def update_note(db: Database, note_id: str, expected_version: int, content: str) -> Note:
    """Replace the content if the note is still at ``expected_version``.

    Raises ConcurrencyError when someone edited it first, NotFound when it is gone.
    """
    async with unit_of_work(db) as uow:
        version = await update_versioned(
            uow, notes, {"id": note_id}, expected_version, {"content": content}
        )
        await audit.record(
            uow, action="update", entity="note", entity_id=note_id, data={"version": version}
        )
    return await get_note(db, note_id)


async def get_note(db: Database, note_id: str) -> Note:
    async with db.connect() as connection:
        row = (await connection.execute(select(notes).where(notes.c.id == note_id))).first()
    if row is None:
        raise NotFound(f"note {note_id} does not exist")
    return Note(id=row.id, user_id=row.user_id, content=row.content, version=row.version)


async def list_notes(db: Database, user_id: str) -> list[Note]:
    async with db.connect() as connection:
        rows = await connection.execute(
            select(notes).where(notes.c.user_id == user_id).order_by(notes.c.created_at)
        )
        return [
            Note(id=row.id, user_id=row.user_id, content=row.content, version=row.version)
            for row in rows
        ]
