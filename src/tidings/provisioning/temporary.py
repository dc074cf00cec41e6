"""An owner and a runtime role on an existing database, for tests and conformance suites.

Production provisioning creates the database with its roles (:mod:`.provision`);
a test gets a fresh database from a fixture and wants the same two roles on it,
under unique names so concurrent runs never meet, dropped again afterwards.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tidings.provisioning.names import ServiceNames
from tidings.provisioning.servers import admin_connection, server_admin
from tidings.storage.database import Database


@dataclass(frozen=True)
class ServiceRoles:
    names: ServiceNames
    owner: Database
    """The database, connected as the owner role (runs migrations, owns the tables)."""
    runtime: Database
    """The database, connected as the runtime role (owns nothing)."""


@asynccontextmanager
async def temporary_roles(database: Database) -> AsyncIterator[ServiceRoles]:
    """Create an owner and a runtime role for ``database`` (connected as a superuser).

    The owner gets the database-level privileges provisioning gives it; the runtime
    role gets CONNECT only until :func:`tidings.provisioning.apply_grants` runs
    after the migrations.
    """
    admin = server_admin(database.backend)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = ServiceNames(
        service=database.service,
        database=str(database.url.database),
        owner=f"{prefix}_owner",
        runtime=f"{prefix}_app",
    )
    passwords = {role: secrets.token_urlsafe(18) for role in (names.owner, names.runtime)}
    async with admin_connection(database.url) as connection:
        for role, password in passwords.items():
            await admin.create_role(connection, role, password)
        await admin.secure_database(connection, names)
    owner, runtime = (
        Database(database.service, database.url.set(username=role, password=passwords[role]))
        for role in (names.owner, names.runtime)
    )
    try:
        yield ServiceRoles(names=names, owner=owner, runtime=runtime)
    finally:
        await owner.close()
        await runtime.close()
        async with admin_connection(database.url) as connection:
            for role in (names.runtime, names.owner):
                await admin.disown(connection, role)
                await admin.drop_role(connection, role)
