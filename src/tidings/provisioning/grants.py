"""The runtime role's table grants, applied by the owner after every migration.

Grants name tables, so they can only follow the migration that created them;
``tidings db upgrade`` runs :func:`apply_grants` right after migrating.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from tidings.migrations.runner import version_table
from tidings.provisioning.base import TableGrants
from tidings.provisioning.names import ServiceNames
from tidings.provisioning.servers import server_admin
from tidings.storage.database import Database
from tidings.storage.urls import parse_url
from tidings.system import Service


def table_grants(service: Service, present: set[str]) -> TableGrants:
    """The grants for the tables of ``service`` that exist; tables it does not declare get none."""
    append_only = tuple(name for name in service.append_only if name in present)
    read_write = tuple(
        name for name in service.tables if name in present and name not in append_only
    )
    versions = version_table(service.name)
    return TableGrants(
        read_write=read_write,
        append_only=append_only,
        read_only=(versions,) if versions in present else (),
    )


async def apply_grants(
    owner: Database, service: Service, runtime_url: str | URL
) -> TableGrants | None:
    """Grant the runtime role of ``runtime_url`` its privileges, connected as the owner.

    Returns the grants, or None when there is no separate runtime role (SQLite, or
    one URL for both) and so nothing to grant.
    """
    runtime = parse_url(runtime_url, service=service.name)
    if not owner.capabilities.roles or not runtime.username:
        return None
    if runtime.username == owner.url.username:
        return None
    names = ServiceNames(
        service=service.name,
        database=str(owner.url.database),
        owner=str(owner.url.username),
        runtime=runtime.username,
    )
    admin = server_admin(owner.backend)
    async with owner.transaction() as connection:
        grants = table_grants(service, await admin.existing_tables(connection))
        await admin.grant_runtime(connection, names, grants)
    return grants
