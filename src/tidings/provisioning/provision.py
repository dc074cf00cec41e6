"""``tidings db provision``: one database per service, an owner and a runtime role each.

Idempotent: roles and databases that exist are kept, passwords already in the
env file are reused once a login proves they still work (a password that no
longer matches its role is replaced and the env file rewritten), and a second run
reports that nothing changed. :func:`provision_layout` and :func:`deprovision_layout`
work on every backend of a :func:`~tidings.provisioning.layout.layout` at once.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from tidings.errors import ConfigurationError
from tidings.provisioning.base import ServerAdmin
from tidings.provisioning.envfile import read_env_file, write_env_file
from tidings.provisioning.layout import layout
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


async def provision_layout(
    system: System,
    backend: Backend,
    settings: Settings,
    env_file: Path | None = None,
    *,
    uniform: bool = False,
) -> list[ProvisionReport]:
    """:func:`provision` every group of ``layout(system, backend, uniform=uniform)`` on its
    backend, into one env file: the layout ``tidings up`` runs."""
    reports = []
    for chosen, services in layout(system, backend, uniform=uniform).items():
        part = replace(system, services=tuple(services))
        reports.append(await provision(part, chosen, settings, env_file))
    return reports


async def deprovision_layout(
    system: System, backend: Backend, settings: Settings, *, uniform: bool = False
) -> list[str]:
    """:func:`deprovision` every group of the layout, then the services' embedded files
    (:attr:`~tidings.system.Service.files`); what was actually removed."""
    removed: list[str] = []
    for chosen, services in layout(system, backend, uniform=uniform).items():
        removed += await deprovision(replace(system, services=tuple(services)), chosen, settings)
    removed += remove_service_files(system, settings)
    return removed


def remove_service_files(system: System, settings: Settings) -> list[str]:
    """Delete the files the services keep beside their databases; the paths removed."""
    folder = (settings.data_dir / system.name).resolve()
    removed = []
    for service in system.services:
        for name in service.files:
            path = (folder / name).resolve()
            if not path.is_relative_to(folder):
                raise ConfigurationError(
                    f"service {service.name}: file {name!r} is outside the data folder {folder}"
                )
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
            removed.append(str(path))
    return removed


async def deprovision(system: System, backend: Backend, settings: Settings) -> list[str]:
    """Drop every service's database, then its roles; return what existed and was dropped."""
    dropped: list[str] = []
    if backend is Backend.SQLITE:
        for service in system.services:
            path = _sqlite_path(system, service, settings)
            for suffix in ("", "-wal", "-shm"):
                file = Path(f"{path}{suffix}")
                if file.exists():
                    file.unlink()
                    dropped.append(str(file))
        return dropped
    admin = server_admin(backend)
    names = [service_names(system.name, service.name) for service in system.services]
    async with admin_connection(admin_url(backend, settings)) as connection:
        # Databases first: a role cannot be dropped while it holds privileges in one.
        for name in names:
            if await admin.database_exists(connection, name.database):
                await admin.drop_database(connection, name.database)
                dropped.append(f"database {name.database}")
        for name in names:
            for role in (name.runtime, name.owner):
                if await admin.role_exists(connection, role):
                    await admin.drop_role(connection, role)
                    dropped.append(f"role {role}")
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
        elif refusal := await _login_refused(server, role, remembered):
            # The env file's password no longer opens the role (the role was re-created
            # or altered elsewhere): every later start would fail, so repair it here.
            passwords[role] = _new_password()
            await admin.set_password(connection, role, passwords[role])
            changes.append(
                f"role {role} refused the env file's password ({refusal}): set a new one"
            )
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


#: How each server says "wrong password or no such login" (not "no such database").
_PG_AUTHENTICATION_STATES = frozenset({"28P01", "28000"})
_MARIADB_ACCESS_DENIED = 1045


async def _login_refused(server: URL, role: str, password: str) -> str | None:
    """Why ``role`` cannot log in with ``password``, or None if it can.

    Only an authentication failure counts: a database that does not exist yet, or
    one the role may not open, says nothing about the password.
    """
    # PostgreSQL needs a database to connect to: every role may open ``postgres``.
    target = "postgres" if server.get_backend_name().startswith("postgres") else None
    url = server.set(username=role, password=password, database=target)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect():
            return None
    except Exception as error:
        if _is_authentication_failure(error):
            return _first_line(error)
        return None
    finally:
        await engine.dispose()


def _is_authentication_failure(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if state in _PG_AUTHENTICATION_STATES:
            return True
        args = getattr(current, "args", ())
        if args and args[0] == _MARIADB_ACCESS_DENIED:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:160] if text else type(error).__name__


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
