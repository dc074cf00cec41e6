"""Run a service's Alembic history against its database.

Every service has its own history (a directory of revision scripts) and its own
version table, ``alembic_version_<service>``, in its own database. The library
supplies the environment, so a service ships revision scripts only.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from tidings.storage.database import Database
from tidings.storage.errors import mapped_errors
from tidings.system import Service

_ENVIRONMENT = Path(__file__).parent


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: Service) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_ENVIRONMENT))
    config.set_main_option("version_locations", str(service.migrations))
    config.set_main_option("path_separator", "os")
    config.attributes["version_table"] = version_table(service.name)
    return config


def heads(service: Service) -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config(service)).get_heads())


# Alembic keeps its migration context in module globals, so two migrations running at
# once in one process (one per service, started together) would trample each other.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _migration_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def _run(database: Database, service: Service, action: Any) -> Any:
    async with _migration_lock():
        return await _run_alone(database, service, action)


async def _run_alone(database: Database, service: Service, action: Any) -> Any:
    config = alembic_config(service)

    def run(connection: Connection) -> Any:
        config.attributes["connection"] = connection
        return action(config, connection)

    with mapped_errors(f"{database.describe}, migrating"):
        async with database.engine.connect() as connection:
            result = await connection.run_sync(run)
            await connection.commit()
    return result


async def upgrade(database: Database, service: Service, revision: str = "head") -> None:
    """Bring the database to ``revision``; a failing revision leaves the one before it."""
    await _run(database, service, lambda config, _c: command.upgrade(config, revision))


async def downgrade(database: Database, service: Service, revision: str) -> None:
    await _run(database, service, lambda config, _c: command.downgrade(config, revision))


async def current(database: Database, service: Service) -> str | None:
    """The revision the database is at, or None before the first migration."""

    def read(_config: Config, connection: Connection) -> str | None:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(service.name)}
        )
        return context.get_current_revision()

    result: str | None = await _run(database, service, read)
    return result
