"""The port a database server offers provisioning: databases, login roles and grants.

One adapter per backend (:mod:`.postgres`, :mod:`.mariadb`). The ``create_*``
methods are called only after the matching ``*_exists`` said no; every other
method is idempotent, so provisioning and granting can be re-run. Admin methods take
an AUTOCOMMIT connection with a superuser; :meth:`ServerAdmin.grant_runtime` and
:meth:`ServerAdmin.existing_tables` take the owner's connection to the service's
own database, since the owner owns the tables it grants on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.provisioning.names import ServiceNames
from tidings.storage.capabilities import Backend


@dataclass(frozen=True)
class TableGrants:
    """What the runtime role may do, table by table."""

    read_write: tuple[str, ...]
    """SELECT, INSERT, UPDATE, DELETE: ordinary tables."""
    append_only: tuple[str, ...]
    """SELECT and INSERT only: the audit log and the other append-only tables."""
    read_only: tuple[str, ...]
    """SELECT only: the migration version table."""
    lock_rows: tuple[str, ...] = ()
    """SELECT and UPDATE: rows writers lock and mark (the event store's writer slots)."""

    def levels(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        """Each group of tables with the privileges it gets, as SQL."""
        return (
            (self.read_write, "SELECT, INSERT, UPDATE, DELETE"),
            (self.append_only, "SELECT, INSERT"),
            (self.read_only, "SELECT"),
            (self.lock_rows, "SELECT, UPDATE"),
        )


class ServerAdmin(ABC):
    backend: Backend

    @abstractmethod
    async def database_exists(self, admin: AsyncConnection, database: str) -> bool:
        """Whether ``database`` exists on the server."""

    @abstractmethod
    async def create_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        """Create the service's database (the owner role must exist)."""

    @abstractmethod
    async def role_exists(self, admin: AsyncConnection, role: str) -> bool:
        """Whether the login role exists."""

    @abstractmethod
    async def create_role(self, admin: AsyncConnection, role: str, password: str) -> None:
        """Create a login role that owns nothing and may create nothing."""

    @abstractmethod
    async def set_password(self, admin: AsyncConnection, role: str, password: str) -> None:
        """Give an existing role a new password."""

    @abstractmethod
    async def secure_database(self, admin: AsyncConnection, names: ServiceNames) -> None:
        """Database-level privileges: the owner's, the runtime role's, none for anyone else."""

    @abstractmethod
    async def drop_database(self, admin: AsyncConnection, database: str) -> None:
        """Drop the database if it exists (closing its sessions where the server can)."""

    @abstractmethod
    async def drop_role(self, admin: AsyncConnection, role: str) -> None:
        """Drop the role if it exists."""

    @abstractmethod
    async def disown(self, admin: AsyncConnection, role: str) -> None:
        """Hand what ``role`` owns in the connected database to the admin, drop its grants.

        Run before :meth:`drop_role` when the database outlives the role.
        """

    @abstractmethod
    async def existing_tables(self, owner: AsyncConnection) -> dict[str, str]:
        """The tables in the connection's own database, each with its comment ("" if none).

        A library migration operation records the runtime role's access in the comment
        (:mod:`tidings.migrations.access`).
        """

    @abstractmethod
    async def grant_runtime(
        self, owner: AsyncConnection, names: ServiceNames, grants: TableGrants
    ) -> None:
        """Give the runtime role exactly ``grants`` on the tables of its database."""
