"""Database URLs: which backend a URL names, the async driver it needs, and a safe form to print."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tidings.errors import ConfigurationError
from tidings.storage.capabilities import Backend

_ASYNC_DRIVERS: dict[Backend, str] = {
    Backend.POSTGRESQL: "postgresql+asyncpg",
    Backend.MARIADB: "mysql+asyncmy",
    Backend.SQLITE: "sqlite+aiosqlite",
}

_BACKEND_BY_DIALECT: dict[str, Backend] = {
    "postgresql": Backend.POSTGRESQL,
    "postgres": Backend.POSTGRESQL,
    "mysql": Backend.MARIADB,
    "mariadb": Backend.MARIADB,
    "sqlite": Backend.SQLITE,
}


def parse_url(url: str | URL, *, service: str = "?") -> URL:
    """Parse ``url`` and switch it to the async driver of its backend."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigurationError(
            f"service {service}: {hide_password(str(url))!s} is not a database URL"
        ) from error
    backend = backend_of(parsed, service=service)
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def backend_of(url: URL, *, service: str = "?") -> Backend:
    dialect = url.get_backend_name()
    try:
        return _BACKEND_BY_DIALECT[dialect]
    except KeyError:
        raise ConfigurationError(
            f"service {service}: {hide_password(url)} names the unsupported backend "
            f"{dialect!r}; use postgresql://, mysql:// (MariaDB) or sqlite://"
        ) from None


def hide_password(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def with_credentials(url: URL, username: str, password: str | None) -> URL:
    return url.set(username=username, password=password)
