"""Provisioning on MariaDB: a database, every privilege on it but DROP for the owner
user (with GRANT OPTION, so it can grant table privileges after migrations), table
grants only for the runtime user. MariaDB has no PUBLIC: a user without privileges
on a database cannot open it.

Why no DROP: MariaDB's ``TRUNCATE`` needs only DROP and fires no trigger, so an
owner with DROP could empty the append-only tables (the audit log, the events)
that PostgreSQL's ``BEFORE TRUNCATE`` trigger protects; and MariaDB grants add up,
so DROP held on the database cannot be withheld from single tables. A migration
that drops a table (a downgrade, mostly) runs as the admin instead.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.provisioning.base import ServerAdmin, TableGrants
from tidings.provisioning.names import ServiceNames, identifier, password_literal
from tidings.storage.capabilities import Backend

# "There is no such grant defined": REVOKE of a privilege the user never had.
_NO_SUCH_GRANT = (1141, 1147)

# Everything a migration needs but DROP (and DELETE HISTORY, which would let the owner
# rewrite a system-versioned table's past).
OWNER_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, TRIGGER, "
    "CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, "
    "CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT"
)

# The table-level privileges the owner holds and so may revoke. (REVOKE ALL would need
# DROP too, which only the admin holds.)
_TABLE_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, TRIGGER, "
    "CREATE VIEW, SHOW VIEW"
)

# Services reach the server over TCP from any host; the grants, not the host, confine them.
HOST = "%"


def account(role: str) -> str:
    return f"'{identifier(role)}'@'{HOST}'"


class MariaDBServerAdmin(ServerAdmin):
    backend = Backend.MARIADB

    async def database_exists(self, admin: AsyncConnection, database: str) -> bool:
        found = await admin.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
            {"name": database},
        )
        return found.first() is not None

    async def create_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        await admin.execute(
            text(
                f"CREATE DATABASE IF NOT EXISTS {identifier(names.database)} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )

    async def role_exists(self, admin: AsyncConnection, role: str) -> bool:
        found = await admin.execute(
            text("SELECT 1 FROM mysql.user WHERE user = :name AND host = :host"),
            {"name": role, "host": HOST},
        )
        return found.first() is not None

    async def create_role(self, admin: AsyncConnection, role: str, password: str) -> None:
        await admin.execute(
            text(f"CREATE USER {account(role)} IDENTIFIED BY {password_literal(password)}")
        )

    async def set_password(self, admin: AsyncConnection, role: str, password: str) -> None:
        await admin.execute(
            text(f"ALTER USER {account(role)} IDENTIFIED BY {password_literal(password)}")
        )

    async def secure_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        database = identifier(names.database)
        owner = account(names.owner)
        # An owner provisioned before DROP was withheld loses it on the next provisioning.
        await _revoke(admin, f"REVOKE DROP, DELETE HISTORY ON {database}.* FROM {owner}")
        await admin.execute(
            text(f"GRANT {OWNER_PRIVILEGES} ON {database}.* TO {owner} WITH GRANT OPTION")
        )

    async def drop_database(self, admin: AsyncConnection, database: str) -> None:
        await admin.execute(text(f"DROP DATABASE IF EXISTS {identifier(database)}"))

    async def drop_role(self, admin: AsyncConnection, role: str) -> None:
        await admin.execute(text(f"DROP USER IF EXISTS {account(role)}"))

    async def disown(self, admin: AsyncConnection, role: str) -> None:
        # MariaDB users own nothing, and DROP USER removes their grants with them.
        return None

    async def existing_tables(self, owner: AsyncConnection) -> dict[str, str]:
        rows = await owner.execute(
            text(
                "SELECT table_name, table_comment FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
            )
        )
        return {str(row[0]): str(row[1] or "") for row in rows}

    async def grant_runtime(
        self, owner: AsyncConnection, names: ServiceNames, grants: TableGrants
    ) -> None:
        database = identifier(names.database)
        runtime = account(names.runtime)
        for tables, privileges in grants.levels():
            for table in tables:
                target = f"{database}.{identifier(table)}"
                # Revoke first, so a re-run also removes anything granted by hand.
                await _revoke(owner, f"REVOKE {_TABLE_PRIVILEGES} ON {target} FROM {runtime}")
                await owner.execute(text(f"GRANT {privileges} ON {target} TO {runtime}"))


async def _revoke(connection: AsyncConnection, statement: str) -> None:
    """Run a REVOKE; revoking what was never granted is no error."""
    try:
        await connection.execute(text(statement))
    except DBAPIError as error:
        code = getattr(error.orig, "args", (None,))[0]
        if code not in _NO_SUCH_GRANT:
            raise
