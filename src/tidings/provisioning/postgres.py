"""Provisioning on PostgreSQL: a database owned by the owner role, CONNECT for the
runtime role only, table grants applied by the owner after migrations."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.provisioning.base import ServerAdmin, TableGrants
from tidings.provisioning.names import ServiceNames, identifier, password_literal
from tidings.storage.capabilities import Backend


class PostgresServerAdmin(ServerAdmin):
    backend = Backend.POSTGRESQL

    async def database_exists(self, admin: AsyncConnection, database: str) -> bool:
        found = await admin.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
        )
        return found.first() is not None

    async def create_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        await admin.execute(
            text(f"CREATE DATABASE {identifier(names.database)} OWNER {identifier(names.owner)}")
        )

    async def role_exists(self, admin: AsyncConnection, role: str) -> bool:
        found = await admin.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": role}
        )
        return found.first() is not None

    async def create_role(self, admin: AsyncConnection, role: str, password: str) -> None:
        await admin.execute(
            text(
                f"CREATE ROLE {identifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD {password_literal(password)}"
            )
        )

    async def set_password(self, admin: AsyncConnection, role: str, password: str) -> None:
        await admin.execute(
            text(f"ALTER ROLE {identifier(role)} PASSWORD {password_literal(password)}")
        )

    async def secure_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        database = identifier(names.database)
        await admin.execute(text(f"ALTER DATABASE {database} OWNER TO {identifier(names.owner)}"))
        # PUBLIC gets CONNECT and TEMPORARY on every new database by default; without
        # this revoke any login role of the cluster could open this database.
        await admin.execute(text(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC"))
        await admin.execute(
            text(f"GRANT CONNECT ON DATABASE {database} TO {identifier(names.runtime)}")
        )

    async def drop_database(self, admin: AsyncConnection, database: str) -> None:
        # FORCE ends sessions still connected (a service left running, a pool not closed).
        await admin.execute(text(f"DROP DATABASE IF EXISTS {identifier(database)} WITH (FORCE)"))

    async def drop_role(self, admin: AsyncConnection, role: str) -> None:
        await admin.execute(text(f"DROP ROLE IF EXISTS {identifier(role)}"))

    async def disown(self, admin: AsyncConnection, role: str) -> None:
        # A role that owns a database or holds a grant cannot be dropped.
        await admin.execute(text(f"REASSIGN OWNED BY {identifier(role)} TO CURRENT_USER"))
        await admin.execute(text(f"DROP OWNED BY {identifier(role)}"))

    async def existing_tables(self, owner: AsyncConnection) -> dict[str, str]:
        rows = await owner.execute(
            text(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class AS c "
                "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            )
        )
        return {str(row[0]): str(row[1] or "") for row in rows}

    async def grant_runtime(
        self, owner: AsyncConnection, names: ServiceNames, grants: TableGrants
    ) -> None:
        runtime = identifier(names.runtime)
        # PostgreSQL 15 no longer lets PUBLIC create in `public`; older servers do.
        await owner.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        await owner.execute(text(f"GRANT USAGE ON SCHEMA public TO {runtime}"))
        for tables, privileges in grants.levels():
            for table in tables:
                # Revoke first, so a re-run also removes anything granted by hand.
                await owner.execute(text(f"REVOKE ALL ON {identifier(table)} FROM {runtime}"))
                await owner.execute(text(f"GRANT {privileges} ON {identifier(table)} TO {runtime}"))
        # Serial and identity columns draw from sequences the owner owns.
        await owner.execute(
            text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {runtime}")
        )
