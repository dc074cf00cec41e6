"""What the user service does: keep profiles (optimistic locking on updates)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select

from examples.notes.user.tables import profiles
from tidings import audit
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    bio: str
    version: int


async def create_profile(db: Database, user_id: str, display_name: str) -> Profile:
    """Create an empty profile; raises IntegrityError if the user already has one."""
    async with unit_of_work(db) as uow:
        await uow.execute(
            insert(profiles).values(
                user_id=user_id, display_name=display_name, bio="", version=1, updated_at=utcnow()
            )
        )
        await audit.record(uow, action="create", entity="profile", entity_id=user_id)
    return Profile(user_id=user_id, display_name=display_name, bio="", version=1)


async def update_profile(
    db: Database, user_id: str, expected_version: int, *, display_name: str, bio: str
) -> Profile:
    """Raises ConcurrencyError when the profile moved past ``expected_version``."""
    async with unit_of_work(db) as uow:
        version = await update_versioned(
            uow,
            profiles,
            {"user_id": user_id},
            expected_version,
            {"display_name": display_name, "bio": bio},
        )
        await audit.record(
            uow, action="update", entity="profile", entity_id=user_id, data={"version": version}
        )
    return Profile(user_id=user_id, display_name=display_name, bio=bio, version=version)


async def get_profile(db: Database, user_id: str) -> Profile | None:
    async with db.connect() as connection:
        row = (
            await connection.execute(select(profiles).where(profiles.c.user_id == user_id))
        ).first()
    if row is None:
        return None
    return Profile(
        user_id=row.user_id, display_name=row.display_name, bio=row.bio, version=row.version
    )
