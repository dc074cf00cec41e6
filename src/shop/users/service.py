"""Users' operations: each one unit of work that changes rows, audits and publishes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select

from shop.common.publishing import Publisher
from shop.common.versioned import delete_versioned
from shop.contracts.users import UserDeleted, UserRegistered, UserUpdated
from shop.users.credentials import hash_password
from shop.users.schemas import NewUser, User, UserChange
from shop.users.tables import users
from tidings import audit
from tidings.errors import NotFound
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work


class UsersService:
    def __init__(self, database: Database, publisher: Publisher) -> None:
        self.database = database
        self.publisher = publisher

    async def register(self, new: NewUser, *, actor: str = "api") -> User:
        """Create a user; a taken email raises :class:`~tidings.errors.IntegrityError`."""
        user_id = str(uuid.uuid4())
        now = utcnow()
        # Hashed before the transaction: the slow part holds no connection.
        password_hash = await hash_password(new.password)
        async with unit_of_work(self.database) as uow:
            await uow.execute(
                insert(users).values(
                    id=user_id,
                    **new.model_dump(exclude={"password"}),
                    password_hash=password_hash,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            await audit.record(
                uow, action="register", entity="user", entity_id=user_id, actor=actor
            )
            user = await _read(uow, user_id)
            await self.publisher.publish(
                uow,
                UserRegistered(user_id=user_id, email=user.email, name=user.name, version=1),
            )
        return user

    async def get(self, user_id: str) -> User:
        async with unit_of_work(self.database) as uow:
            return await _read(uow, user_id)

    async def page(self, *, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
        async with unit_of_work(self.database) as uow:
            total = (await uow.execute(select(func.count()).select_from(users))).scalar_one()
            rows = await uow.execute(
                select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
            )
            return [User.model_validate(dict(row._mapping)) for row in rows], int(total)

    async def update(self, user_id: str, change: UserChange, *, actor: str = "api") -> User:
        """Apply ``change`` if the user is still at ``change.version``."""
        values: dict[str, Any] = change.model_dump(exclude={"version"}, exclude_unset=True)
        async with unit_of_work(self.database) as uow:
            await update_versioned(uow, users, {"id": user_id}, change.version, values)
            await audit.record(
                uow, action="update", entity="user", entity_id=user_id, actor=actor, data=values
            )
            user = await _read(uow, user_id)
            await self.publisher.publish(
                uow,
                UserUpdated(
                    user_id=user_id, email=user.email, name=user.name, version=user.version
                ),
            )
        return user

    async def delete(self, user_id: str, version: int, *, actor: str = "api") -> None:
        async with unit_of_work(self.database) as uow:
            await delete_versioned(uow, users, {"id": user_id}, version)
            await audit.record(uow, action="delete", entity="user", entity_id=user_id, actor=actor)
            await self.publisher.publish(uow, UserDeleted(user_id=user_id, version=version + 1))


async def _read(uow: UnitOfWork, user_id: str) -> User:
    row = (await uow.execute(select(users).where(users.c.id == user_id))).one_or_none()
    if row is None:
        raise NotFound(f"user {user_id} does not exist")
    return User.model_validate(dict(row._mapping))
