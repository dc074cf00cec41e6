"""Profile changes that the user service publishes: each writes the profile and a
``ProfileChanged`` outbox row in one unit of work, so the change is published if,
and only if, it commits."""

from __future__ import annotations

from sqlalchemy import insert

from examples.notes.contracts import ProfileChanged, registry
from examples.notes.user.operations import Profile
from examples.notes.user.tables import profiles
from tidings import audit, outbox
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

AGGREGATE_TYPE = "profile"


async def _publish(uow: UnitOfWork, profile: Profile) -> None:
    await outbox.add(
        uow,
        registry,
        ProfileChanged(
            user_id=profile.user_id, display_name=profile.display_name, version=profile.version
        ),
        aggregate_type=AGGREGATE_TYPE,
        aggregate_id=profile.user_id,
        aggregate_version=profile.version,
    )


async def create_profile(db: Database, user_id: str, display_name: str) -> Profile:
    """Create a profile and publish it; raises IntegrityError if the user already has one."""
    profile = Profile(user_id=user_id, display_name=display_name, bio="", version=1)
    async with unit_of_work(db) as uow:
        await uow.execute(
            insert(profiles).values(
                user_id=user_id, display_name=display_name, bio="", version=1, updated_at=utcnow()
            )
        )
        await audit.record(uow, action="create", entity="profile", entity_id=user_id)
        await _publish(uow, profile)
    return profile


async def update_profile(
    db: Database, user_id: str, expected_version: int, *, display_name: str, bio: str
) -> Profile:
    """Change a profile and publish the change.

    Raises ConcurrencyError when the profile moved past ``expected_version``; the
    version check also orders the outbox rows of one profile by version.
    """
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
        profile = Profile(user_id=user_id, display_name=display_name, bio=bio, version=version)
        await _publish(uow, profile)
    return profile
