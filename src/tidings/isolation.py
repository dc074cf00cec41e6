"""The isolation check: no service's runtime credentials can read another's data.

For every ordered pair (A, B) of services it logs in with A's runtime credentials
to B's database, on B's server (A's server may be another one, even of another
kind), and reads one of B's tables. Each attempt must be refused. A check that
cannot even reach a service's own database with its credentials proves nothing,
so that counts as a failure too.

SQLite has no credentials: a service on a file is isolated by the file alone. Its
pairs are judged by what the operating system enforces: the file must be readable
by its owner only (``tidings db provision`` creates it with mode 0600), and a
service on SQLite holds no login to any server.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from tidings.errors import ConfigurationError, StorageError
from tidings.provisioning.layout import layout
from tidings.provisioning.names import identifier
from tidings.storage.capabilities import CAPABILITIES, Backend
from tidings.storage.database import Database
from tidings.storage.urls import backend_of, parse_url
from tidings.system import System


@dataclass(frozen=True)
class Attempt:
    source: str
    """The service whose runtime credentials were used."""
    target: str
    """The service whose database they tried to read."""
    refused: bool
    detail: str


@dataclass(frozen=True)
class IsolationReport:
    attempts: tuple[Attempt, ...]
    own_access_failures: tuple[Attempt, ...]
    """Services that could not read their own database: the check proved nothing for them."""

    @property
    def refused(self) -> int:
        return sum(attempt.refused for attempt in self.attempts)

    @property
    def total(self) -> int:
        return len(self.attempts)

    @property
    def isolated(self) -> bool:
        return self.refused == self.total and not self.own_access_failures


def runtime_urls(
    system: System, backend: Backend | None = None, *, uniform: bool = False
) -> dict[str, str]:
    """Each service's runtime URL from its environment.

    With ``backend``, each must be on the backend the layout of ``backend`` gives it
    (:func:`tidings.provisioning.layout.layout`, what ``tidings up`` runs); a layout
    of servers only where no service has a role to check is refused as meaningless.
    """
    expected: dict[str, Backend] = {}
    if backend is not None:
        groups = layout(system, backend, uniform=uniform)
        if not any(CAPABILITIES[chosen].roles for chosen in groups):
            raise ConfigurationError(
                f"{backend.value} has no roles: its services are isolated by separate files only"
            )
        expected = {service.name: chosen for chosen, group in groups.items() for service in group}
    urls: dict[str, str] = {}
    for service in system.services:
        url = system.database_url(service.name)
        found = backend_of(parse_url(url, service=service.name), service=service.name)
        wanted = expected.get(service.name)
        if wanted is not None and found is not wanted:
            raise ConfigurationError(
                f"service {service.name} runs on {found.value}, but the layout puts it on "
                f"{wanted.value}: set {service.env_var} (tidings db provision --backend "
                f"{backend.value if backend else ''}{' --uniform' if uniform else ''} writes it)"
            )
        urls[service.name] = url
    return urls


async def check_isolation(system: System, urls: Mapping[str, str]) -> IsolationReport:
    """Try every cross-service read with runtime credentials ``urls`` (service -> URL)."""
    attempts: list[Attempt] = []
    own_failures: list[Attempt] = []
    for source in system.services:
        for target in system.services:
            attempt = await _try_read(system, source.name, target.name, urls)
            if source.name == target.name:
                if attempt.refused:
                    own_failures.append(attempt)
            else:
                attempts.append(attempt)
    return IsolationReport(tuple(attempts), tuple(own_failures))


async def _try_read(system: System, source: str, target: str, urls: Mapping[str, str]) -> Attempt:
    source_url = parse_url(urls[source], service=source)
    target_url = parse_url(urls[target], service=target)
    target_database = target_url.database
    source_kind = backend_of(source_url, service=source)
    target_kind = backend_of(target_url, service=target)
    if source != target and target_kind is Backend.SQLITE:
        return _file_access(source, target, str(target_database or ""))
    if source != target and source_kind is Backend.SQLITE:
        return Attempt(
            source,
            target,
            refused=True,
            detail=f"{source} runs on a SQLite file and holds no login to {target_kind.value}",
        )
    if source == target or source_kind is Backend.SQLITE:
        url = source_url
    else:
        # A's credentials against B's server and database: the layout may put them on
        # different servers, and a role of the same name there must not let A in either.
        url = target_url.set(username=source_url.username, password=source_url.password)
    tables = system.service(target).tables
    # With no table declared, opening the database at all counts as access.
    probe = f"SELECT 1 FROM {identifier(tables[0])} LIMIT 1" if tables else "SELECT 1"
    try:
        async with Database(source, url, pool_size=1) as database, database.connect() as c:
            await c.execute(text(probe))
    except StorageError as refused:
        return Attempt(source, target, refused=True, detail=str(refused))
    what = f"{target_database}.{tables[0]}" if tables else str(target_database)
    return Attempt(source, target, refused=False, detail=f"read {what}")


def _file_access(source: str, target: str, path: str) -> Attempt:
    """Whether the operating system keeps other users out of ``target``'s SQLite file."""
    file = Path(path)
    if not path or not file.exists():
        return Attempt(source, target, refused=True, detail=f"no database file {path}")
    mode = stat.S_IMODE(file.stat().st_mode)
    if mode & 0o077:
        return Attempt(
            source,
            target,
            refused=False,
            detail=f"read {path}: the file has no credentials and its mode {mode:04o} lets "
            "other users read it",
        )
    return Attempt(
        source,
        target,
        refused=True,
        detail=f"{path} has no credentials; only its owner may open it (mode {mode:04o})",
    )
