"""What the auth service does: register users and check their passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select

from examples.notes.auth.passwords import hash_password, verify_password
from examples.notes.auth.tables import users
from tidings import audit
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work


@dataclass(frozen=True)
class User:
    id: str
    email: str


async def register_user(db: Database, email: str, password: str) -> User:
    """Create a user; raises IntegrityError if the email is taken."""
    user = User(id=str(uuid.uuid4()), email=email.lower())
    now = utcnow()
    async with unit_of_work(db) as uow:
        await uow.execute(
            insert(users).values(
                id=user.id,
                email=user.email,
                password_hash=hash_password(password),
                created_at=now,
                version=1,
                updated_at=now,
            )
        )
        await audit.record(
            uow, action="register", entity="user", entity_id=user.id, actor=user.email
        )
    return user


async def find_user(db: Database, email: str) -> User | None:
    async with db.connect() as connection:
        row = (
            await connection.execute(
                select(users.c.id, users.c.email).where(users.c.email == email.lower())
            )
        ).first()
    return None if row is None else User(id=row.id, email=row.email)


async def check_password(db: Database, email: str, password: str) -> bool:
    async with db.connect() as connection:
        stored = (
            await connection.execute(
                select(users.c.password_hash).where(users.c.email == email.lower())
            )
        ).scalar_one_or_none()
    return stored is not None and verify_password(password, stored)
