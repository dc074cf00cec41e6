"""A system is declared in Python: its services, each with its own database, tables and
migrations. The CLI finds a system by name; nothing here connects to anything."""

from __future__ import annotations

import importlib
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from tidings.errors import ConfigurationError
from tidings.settings import Settings, load_settings
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database

#: Tables every service gets from the library's own migration operations.
LIBRARY_APPEND_ONLY = ("audit_log",)


@dataclass(frozen=True)
class Service:
    """One service: the tables it owns and the Alembic history that creates them."""

    name: str
    metadata: MetaData
    migrations: Path
    """The directory of this service's Alembic revision scripts."""
    description: str = ""
    backend: Backend = Backend.POSTGRESQL
    """The backend it runs on when not embedded (the design's table)."""
    append_only: tuple[str, ...] = LIBRARY_APPEND_ONLY
    library_tables: tuple[str, ...] = ("audit_log",)
    """Library tables its migrations include (audit log, outbox, inbox, ...)."""
    files: tuple[str, ...] = ()
    """Files or folders it keeps under the system's data folder beside its database (an
    embedded store such as chDB); ``tidings db drop`` removes them with the database."""

    @property
    def env_var(self) -> str:
        return f"{self.name.upper()}_DATABASE_URL"

    @property
    def http_url_var(self) -> str:
        """Where ``tidings up`` records the service's base URL (in its env file)."""
        return f"{self.name.upper()}_HTTP_URL"

    @property
    def tables(self) -> list[str]:
        own = sorted(self.metadata.tables)
        return own + [name for name in self.library_tables if name not in own]


DemoRunner = Callable[["System", Settings], Awaitable[None]]


@dataclass(frozen=True)
class System:
    """A named set of services, each owning one database."""

    name: str
    services: tuple[Service, ...]
    description: str = ""
    demo: DemoRunner | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services)
        raise ConfigurationError(f"system {self.name} has no service {name!r} (it has {known})")

    def select(self, names: Iterable[str] | None) -> list[Service]:
        if not names:
            return list(self.services)
        return [self.service(name) for name in names]

    def database_url(self, service: str, settings: Settings | None = None) -> str:
        """``<SERVICE>_DATABASE_URL`` from the environment, else the embedded SQLite file."""
        settings = settings or load_settings()
        declared = self.service(service)
        from_env = os.environ.get(declared.env_var)
        if from_env:
            return from_env
        folder = settings.data_dir / self.name
        return f"sqlite+aiosqlite:///{folder / service}.db"

    def database(self, service: str, settings: Settings | None = None) -> Database:
        url = self.database_url(service, settings)
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Database(service, url)


_BUILTIN: dict[str, str] = {
    "notes": "examples.notes.system",
    "cart": "examples.cart.system",
    "blog": "examples.blog.system",
    "hotel": "examples.hotel.system",
    "shop": "shop.system",
}
_REGISTRY: dict[str, System] = {}


def register(system: System) -> System:
    """Make ``system`` findable by name (``--system NAME``)."""
    _REGISTRY[system.name] = system
    return system


def get_system(name: str) -> System:
    if name in _REGISTRY:
        return _REGISTRY[name]
    module = _BUILTIN.get(name)
    if module is None:
        for entry in entry_points(group="tidings.systems"):
            if entry.name == name:
                module = entry.value
    if module is None:
        known = ", ".join(sorted(set(_BUILTIN) | set(_REGISTRY)))
        raise ConfigurationError(f"no system named {name!r} (known: {known})")
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ConfigurationError(f"system {name!r}: cannot import {module}: {error}") from error
    system = getattr(loaded, "system", None)
    if not isinstance(system, System):
        raise ConfigurationError(f"{module} defines no `system`")
    return register(system)


def known_systems() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))
