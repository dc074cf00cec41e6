"""``tidings db provision``: one database per service, an owner and a runtime role each.

Idempotent: roles and databases that exist are kept, passwords already in the
env file are reused, and a second run reports that nothing changed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.provisioning.base import ServerAdmin
from tidings.provisioning.envfile import read_env_file, write_env_file
from tidings.provisioning.names import service_names
from tidings.provisioning.servers import admin_connection, admin_url, server_admin
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.storage.urls import hide_password
from tidings.system import Service, System


def owner_env_var(service: Service) -> str:
    return f"{service.name.upper()}_OWNER_DATABASE_URL"


@dataclass(frozen=True)
class ProvisionedService:
    service: str
    database: str
    runtime_url: str
    """The URL the service runs with (full, password included)."""
    owner_url: str
    """The URL migrations run with."""
    changes: tuple[str, ...]

    @property
    def safe_runtime_url(self) -> str:
        return hide_password(self.runtime_url)


@dataclass(frozen=True)
class ProvisionReport:
    system: str
    backend: Backend
    services: tuple[ProvisionedService, ...]
    env_file: Path
    env_file_changed: bool

    @property
    def changed(self) -> bool:
        return self.env_file_changed or any(service.changes for service in self.services)


async def provision(
    system: System, backend: Backend, settings: Settings, env_file: Path | None = None
) -> ProvisionReport:
    """Create what is missing for every service of ``system`` on ``backend``; write the env file."""
    env_path = env_file or settings.env_file
    known = read_env_file(env_path)
    if backend is Backend.SQLITE:
        provisioned = [_provision_sqlite(system, service, settings) for service in system.services]
    else:
        admin = server_admin(backend)
        server = admin_url(backend, settings)
        provisioned = []
        async with admin_connection(server) as connection:
            for service in system.services:
                provisioned.append(
                    await _provision_on_server(admin, connection, server, system, service, known)
                )
    updates: dict[str, str] = {}
    for service, done in zip(system.services, provisioned, strict=True):
        updates[service.env_var] = done.runtime_url
        updates[owner_env_var(service)] = done.owner_url
    changed = write_env_file(env_path, updates)
    return ProvisionReport(system.name, backend, tuple(provisioned), env_path, changed)


async def deprovision(system: System, backend: Backend, settings: Settings) -> list[str]:
    """Drop every service's database, then its roles; return what was dropped."""
    dropped: list[str] = []
    if backend is Backend.SQLITE:
        for service in system.services:
            path = _sqlite_path(system, service, settings)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            dropped.append(str(path))
        return dropped
    admin = server_admin(backend)
    names = [service_names(system.name, service.name) for service in system.services]
    async with admin_connection(admin_url(backend, settings)) as connection:
        # Databases first: a role cannot be dropped while it holds privileges in one.
        for name in names:
            await admin.drop_database(connection, name.database)
            dropped.append(name.database)
        for name in names:
            for role in (name.runtime, name.owner):
                await admin.drop_role(connection, role)
                dropped.append(role)
    return dropped


def _sqlite_path(system: System, service: Service, settings: Settings) -> Path:
    return (settings.data_dir / system.name / f"{service.name}.db").resolve()


def _provision_sqlite(system: System, service: Service, settings: Settings) -> ProvisionedService:
    path = _sqlite_path(system, service, settings)
    changes: list[str] = []
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # an empty file is a valid empty SQLite database
        changes.append(f"created database file {path}")
    url = f"sqlite+aiosqlite:///{path}"
    # SQLite has no roles: migrations and the service share the file.
    return ProvisionedService(service.name, str(path), url, url, tuple(changes))


async def _provision_on_server(
    admin: ServerAdmin,
    connection: AsyncConnection,
    server: URL,
    system: System,
    service: Service,
    known: dict[str, str],
) -> ProvisionedService:
    names = service_names(system.name, service.name)
    changes: list[str] = []
    passwords: dict[str, str] = {}
    for role, variable in ((names.owner, owner_env_var(service)), (names.runtime, service.env_var)):
        remembered = _password_for(known.get(variable), role)
        if not await admin.role_exists(connection, role):
            passwords[role] = remembered or _new_password()
            await admin.create_role(connection, role, passwords[role])
            changes.append(f"created role {role}")
        elif remembered is None:
            # The role exists but its password is lost (no env file): issue a new one.
            passwords[role] = _new_password()
            await admin.set_password(connection, role, passwords[role])
            changes.append(f"set a new password for role {role}")
        else:
            passwords[role] = remembered
    if not await admin.database_exists(connection, names.database):
        await admin.create_database(connection, names)
        changes.append(f"created database {names.database}")
    await admin.secure_database(connection, names)

    def url_for(role: str) -> str:
        url = server.set(username=role, password=passwords[role], database=names.database)
        return url.render_as_string(hide_password=False)

    return ProvisionedService(
        service=service.name,
        database=names.database,
        runtime_url=url_for(names.runtime),
        owner_url=url_for(names.owner),
        changes=tuple(changes),
    )


def _password_for(url: str | None, role: str) -> str | None:
    """The password in ``url`` if the URL logs in as ``role``."""
    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.username != role or not parsed.password:
        return None
    return str(parsed.password)


def _new_password() -> str:
    return secrets.token_urlsafe(24)
