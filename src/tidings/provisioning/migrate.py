"""Migrations as the owner, then the runtime role's grants (``tidings db upgrade``, ...).

Migrations connect with ``<SERVICE>_OWNER_DATABASE_URL`` when it is set (the owner
owns the tables), else with the service's own URL (``<SERVICE>_DATABASE_URL`` or
its embedded SQLite file).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from tidings.errors import ProgrammingError
from tidings.migrations import runner
from tidings.provisioning.grants import apply_grants
from tidings.provisioning.provision import owner_env_var
from tidings.settings import Settings
from tidings.storage.database import Database
from tidings.system import Service, System


class _IgnoredPrimaryKeyName(logging.Filter):
    """Drops MariaDB's note that it ignored the name of the version table's primary key.

    Alembic names every version table's primary key; MariaDB keeps no names for
    primary keys and asyncmy logs its warning on every first migration, which
    reads like a failure in the CLI's output although nothing is wrong.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "ignored for PRIMARY key" not in record.getMessage()


def _quiet_mariadb_primary_key_note() -> None:
    driver_log = logging.getLogger("asyncmy")
    if not any(isinstance(f, _IgnoredPrimaryKeyName) for f in driver_log.filters):
        driver_log.addFilter(_IgnoredPrimaryKeyName())


def owner_database(system: System, service: Service, settings: Settings) -> Database:
    """The service's database, connected as the role that runs its migrations."""
    owner_url = os.environ.get(owner_env_var(service))
    if owner_url:
        return Database(service.name, owner_url)
    return system.database(service.name, settings)


async def upgrade(
    system: System, service: Service, settings: Settings, revision: str = "head"
) -> str | None:
    """Migrate to ``revision``, grant the runtime role; return the revision reached."""
    _quiet_mariadb_primary_key_note()
    async with owner_database(system, service, settings) as database:
        with _drop_needs_the_admin(service):
            await runner.upgrade(database, service, revision)
        await apply_grants(database, service, system.database_url(service.name, settings))
        return await runner.current(database, service)


async def downgrade(
    system: System, service: Service, settings: Settings, revision: str
) -> str | None:
    async with owner_database(system, service, settings) as database:
        with _drop_needs_the_admin(service):
            await runner.downgrade(database, service, revision)
        await apply_grants(database, service, system.database_url(service.name, settings))
        return await runner.current(database, service)


@contextmanager
def _drop_needs_the_admin(service: Service) -> Iterator[None]:
    """Say what to do when a migration drops a table the MariaDB owner may not drop."""
    try:
        yield
    except ProgrammingError as error:
        if "drop command denied" not in str(error).lower():
            raise
        raise ProgrammingError(
            f"{error}. On MariaDB the owner role holds no DROP privilege (with it, it "
            "could TRUNCATE the append-only tables); run this migration as the admin: "
            f"give {owner_env_var(service)} the admin URL with the service's database "
            "for this one run"
        ) from error


async def current(system: System, service: Service, settings: Settings) -> str | None:
    async with owner_database(system, service, settings) as database:
        return await runner.current(database, service)
