"""Which adapter serves a backend, and the admin connection it runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from tidings.errors import ConfigurationError
from tidings.provisioning.base import ServerAdmin
from tidings.provisioning.mariadb import MariaDBServerAdmin
from tidings.provisioning.postgres import PostgresServerAdmin
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.storage.errors import mapped_errors
from tidings.storage.urls import hide_password, parse_url

_BACKEND_NAMES: dict[str, Backend] = {
    "postgres": Backend.POSTGRESQL,
    "postgresql": Backend.POSTGRESQL,
    "mariadb": Backend.MARIADB,
    "mysql": Backend.MARIADB,
    "sqlite": Backend.SQLITE,
}

_ADMINS: dict[Backend, ServerAdmin] = {
    Backend.POSTGRESQL: PostgresServerAdmin(),
    Backend.MARIADB: MariaDBServerAdmin(),
}


def parse_backend(name: str | Backend) -> Backend:
    """``postgres``, ``mariadb`` or ``sqlite`` (as the CLI spells them) to a Backend."""
    if isinstance(name, Backend):
        return name
    try:
        return _BACKEND_NAMES[name.lower()]
    except KeyError:
        raise ConfigurationError(
            f"unknown backend {name!r}: use postgres, mariadb or sqlite"
        ) from None


def server_admin(backend: Backend) -> ServerAdmin:
    try:
        return _ADMINS[backend]
    except KeyError:
        raise ConfigurationError(f"{backend.value} has no roles or grants to provision") from None


def admin_url(backend: Backend, settings: Settings) -> URL:
    """The superuser URL from the settings (``TIDINGS_ADMIN_POSTGRES_URL``, ...)."""
    if backend is Backend.POSTGRESQL:
        return parse_url(settings.admin_postgres_url, service="admin")
    if backend is Backend.MARIADB:
        return parse_url(settings.admin_mariadb_url, service="admin")
    raise ConfigurationError(f"{backend.value} has no admin connection")


@asynccontextmanager
async def admin_connection(url: URL) -> AsyncIterator[AsyncConnection]:
    """An AUTOCOMMIT superuser connection: CREATE DATABASE cannot run in a transaction."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with mapped_errors(f"admin connection ({hide_password(url)})"):
            async with engine.connect() as connection:
                yield connection
    finally:
        await engine.dispose()
