"""The data ownership matrix: which service owns which database and which tables.

Built from the declarations alone (no connection): each service's own tables
from its MetaData, and the library tables its migrations include.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.settings import Settings
from tidings.storage.urls import hide_password
from tidings.system import System


@dataclass(frozen=True)
class OwnedTable:
    name: str
    library: bool
    """Created by the library's migration operations (audit log, outbox, ...)."""
    append_only: bool


@dataclass(frozen=True)
class Ownership:
    service: str
    database: str
    """The service's database URL, password hidden."""
    tables: tuple[OwnedTable, ...]


def ownership_matrix(system: System, settings: Settings) -> list[Ownership]:
    rows: list[Ownership] = []
    for service in system.services:
        own = set(service.metadata.tables)
        tables = tuple(
            OwnedTable(
                name=name,
                library=name not in own,
                append_only=name in service.append_only,
            )
            for name in service.tables
        )
        url = hide_password(system.database_url(service.name, settings))
        rows.append(Ownership(service.name, url, tables))
    return rows


def shared_tables(matrix: list[Ownership]) -> dict[str, list[str]]:
    """Business tables declared by more than one service (library tables excluded).

    Each service has its own database, so a shared name is not a shared table; it
    is still worth seeing, since it usually means data is copied, not owned.
    """
    owners: dict[str, list[str]] = {}
    for row in matrix:
        for table in row.tables:
            if not table.library:
                owners.setdefault(table.name, []).append(row.service)
    return {name: services for name, services in owners.items() if len(services) > 1}
