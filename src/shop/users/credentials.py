"""Passwords and logins: argon2id hashes in the users table, tokens from the shop's secret.

Hashing is deliberately slow: argon2id with OWASP's recommended minimum (19 MiB, two
passes, one lane; about 0.2 s on a busy two-core machine where argon2-cffi's default of
64 MiB, three passes, four lanes took over 1 s). The parameters travel in each stored
hash, so raising them later still verifies the old ones. It runs in a worker thread and
never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from shop.common.auth import AuthConfig, IssuedToken, Role, Unauthorized
from shop.common.publishing import Publisher
from shop.contracts.users import UserRegistered
from shop.users.tables import users
from tidings import audit
from tidings.errors import IntegrityError
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    # Verified when the email is unknown, so a wrong email costs as long as a wrong
    # password and the answer time does not tell which emails are registered. Made on
    # first use: hashing at import would slow every process's start.
    return _hasher.hash(uuid.uuid4().hex)


REFUSED = "the email or password is wrong"


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(stored: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


@dataclass(frozen=True)
class Credentials:
    database: Database
    auth: AuthConfig

    async def login(self, email: str, password: str) -> IssuedToken:
        """A token for the user with ``email`` and ``password``; :class:`Unauthorized` else."""
        async with unit_of_work(self.database) as uow:
            row = (
                await uow.execute(
                    select(users.c.id, users.c.password_hash, users.c.role).where(
                        users.c.email == email
                    )
                )
            ).one_or_none()
        if not await password_matches(row.password_hash if row else None, password):
            raise Unauthorized(REFUSED)
        assert row is not None  # a match needs a stored hash
        return self.auth.issue(str(row.id), Role(row.role))

    async def ensure_staff(self, publisher: Publisher, email: str, password: str) -> str:
        """Make ``email`` a staff account that logs in with ``password``; its user id.

        Idempotent, so every start of the users service (and every replica) may call
        it: an existing user is promoted and given the password, a missing one is
        registered like any other user (its event replicates it to orders).
        """
        hashed = await hash_password(password)
        for _attempt in range(2):
            try:
                return await self._ensure(publisher, email, hashed, password)
            except IntegrityError:
                continue  # another replica registered it between our read and insert
        return await self._ensure(publisher, email, hashed, password)

    async def _ensure(self, publisher: Publisher, email: str, hashed: str, password: str) -> str:
        async with unit_of_work(self.database) as uow:
            row = (
                await uow.execute(
                    select(users.c.id, users.c.password_hash, users.c.role).where(
                        users.c.email == email
                    )
                )
            ).one_or_none()
            if row is not None:
                current = row.role == Role.STAFF and await password_matches(
                    row.password_hash, password
                )
                if not current:
                    # Neither the version nor an event changes: role and hash never
                    # leave the users service.
                    await uow.execute(
                        update(users)
                        .where(users.c.id == row.id)
                        .values(role=Role.STAFF.value, password_hash=hashed)
                    )
                    await audit.record(
                        uow, action="staff", entity="user", entity_id=str(row.id), actor="startup"
                    )
                return str(row.id)
            user_id = str(uuid.uuid4())
            now = utcnow()
            await uow.execute(
                insert(users).values(
                    id=user_id,
                    email=email,
                    name="Staff",
                    address=None,
                    password_hash=hashed,
                    role=Role.STAFF.value,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            await audit.record(
                uow, action="register", entity="user", entity_id=user_id, actor="startup"
            )
            await publisher.publish(
                uow, UserRegistered(user_id=user_id, email=email, name="Staff", version=1)
            )
            return user_id
