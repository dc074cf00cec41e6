"""The isolation check: no service's runtime credentials can read another's data.

For every ordered pair (A, B) of services it connects with A's runtime URL to B's
database and reads one of B's tables. Each attempt must be refused. A check that
cannot even reach a service's own database with its credentials proves nothing,
so that counts as a failure too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text

from tidings.errors import ConfigurationError, StorageError
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


def runtime_urls(system: System, backend: Backend) -> dict[str, str]:
    """Each service's runtime URL from its environment; all must be on ``backend``."""
    if not CAPABILITIES[backend].roles:
        raise ConfigurationError(
            f"{backend.value} has no roles: its services are isolated by separate files only"
        )
    urls: dict[str, str] = {}
    for service in system.services:
        url = system.database_url(service.name)
        found = backend_of(parse_url(url, service=service.name), service=service.name)
        if found is not backend:
            raise ConfigurationError(
                f"service {service.name} runs on {found.value}, not {backend.value}: set "
                f"{service.env_var} (tidings db provision --backend ... writes it)"
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
    target_database = parse_url(urls[target], service=target).database
    url = parse_url(urls[source], service=source).set(database=target_database)
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
