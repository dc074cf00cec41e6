"""Throw-away databases on the real servers, for tests and conformance suites.

Each call creates a uniquely named database so that concurrent test runs never
meet; :func:`temporary_database` drops it again.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tidings.storage.capabilities import Backend
from tidings.storage.database import Database

POSTGRES_ADMIN_URL = os.environ.get(
    "TIDINGS_ADMIN_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get(
    "TIDINGS_ADMIN_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/mysql"
)

#: ``await make_database("postgres", service="orders")``: the shape of the test fixture.
MakeDatabase = Callable[..., Awaitable[Database]]

#: Test parameter names for each backend.
BACKENDS: dict[str, Backend] = {
    "sqlite": Backend.SQLITE,
    "postgres": Backend.POSTGRESQL,
    "mariadb": Backend.MARIADB,
}

SERVERS: dict[str, tuple[str, int]] = {
    "postgres": ("127.0.0.1", 5432),
    "mariadb": ("127.0.0.1", 3306),
    "rabbitmq": ("127.0.0.1", 5672),
    "nats": ("127.0.0.1", 4222),
}


def server_answers(name: str, timeout: float = 1.0) -> bool:
    host, port = SERVERS[name]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unique_name(prefix: str = "tidings_t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def admin_url(backend: Backend) -> str:
    if backend is Backend.POSTGRESQL:
        return POSTGRES_ADMIN_URL
    if backend is Backend.MARIADB:
        return MARIADB_ADMIN_URL
    raise ValueError("SQLite needs no admin connection")


async def create_database(backend: Backend, name: str) -> str:
    """Create database ``name`` on the server; return its URL (admin credentials)."""
    url = make_url(admin_url(backend))
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_database(backend: Backend, name: str) -> None:
    url = make_url(admin_url(backend))
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    statement = f"DROP DATABASE IF EXISTS {name}"
    if backend is Backend.POSTGRESQL:
        statement += " WITH (FORCE)"
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def temporary_database(
    backend: Backend, service: str = "svc", *, folder: Path | None = None
) -> AsyncIterator[Database]:
    """A fresh, empty database for ``service`` on ``backend``, dropped afterwards."""
    name = unique_name()
    if backend is Backend.SQLITE:
        base = folder or Path(os.environ.get("TMPDIR", "/tmp"))
        path = base / f"{name}.db"
        database = Database(service, f"sqlite+aiosqlite:///{path}")
        try:
            yield database
        finally:
            await database.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    url = await create_database(backend, name)
    database = Database(service, url)
    try:
        yield database
    finally:
        await database.close()
        await drop_database(backend, name)
