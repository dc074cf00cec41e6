"""The runtime role's table grants, applied by the owner after every migration.

Grants name tables, so they can only follow the migration that created them;
``tidings db upgrade`` runs :func:`apply_grants` right after migrating.

Where a table's access comes from:

1. the comment a library migration operation wrote on it (:mod:`tidings.migrations.access`):
   the event store's writer slots, the outbox, the inbox, ... get exactly what the
   operation that created them declared, whether or not the service lists them;
2. the service's own tables (its metadata) and, for databases migrated before the
   operations recorded their access, the library tables it lists: read-write;
   a table the service declares append-only is append-only whatever its comment;
3. the service's version table: read-only.

Any other table (made by hand, or by another tool) gets nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import URL

from tidings.migrations.access import RuntimeAccess, from_comment
from tidings.migrations.runner import version_table
from tidings.provisioning.base import TableGrants
from tidings.provisioning.names import ServiceNames
from tidings.provisioning.servers import server_admin
from tidings.storage.database import Database
from tidings.storage.urls import parse_url
from tidings.system import Service


def table_grants(service: Service, present: Mapping[str, str] | set[str]) -> TableGrants:
    """The grants for the tables of ``service`` that exist (``present``: name to comment).

    Tables neither an operation marked nor the service declares get none.
    """
    comments = present if isinstance(present, Mapping) else dict.fromkeys(present, "")
    chosen: dict[str, RuntimeAccess] = {}
    for name in sorted(comments):
        recorded = from_comment(comments[name])
        if recorded is not None:
            chosen[name] = recorded
    for name in service.tables:
        if name in comments and name not in chosen:
            chosen[name] = RuntimeAccess.READ_WRITE
    for name in service.append_only:
        # A service may make a table stricter than its operation did, never looser.
        if name in comments:
            chosen[name] = RuntimeAccess.APPEND_ONLY
    versions = version_table(service.name)
    if versions in comments:
        chosen[versions] = RuntimeAccess.READ_ONLY

    def having(access: RuntimeAccess) -> tuple[str, ...]:
        return tuple(sorted(name for name, level in chosen.items() if level is access))

    return TableGrants(
        read_write=having(RuntimeAccess.READ_WRITE),
        append_only=having(RuntimeAccess.APPEND_ONLY),
        read_only=having(RuntimeAccess.READ_ONLY),
        lock_rows=having(RuntimeAccess.LOCK_ROWS),
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
