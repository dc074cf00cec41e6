"""Finding a system's projections.

Convention: a system lists its projections in ``extras["projections"]``::

    system = System(name="blog", services=(...), extras={"projections": [post_list, ...]})

Each :class:`Projection` names its ``service``; in a one-service system it may
leave it ``None``. ``extras["event_store"]``, if given, is a callable
``(database) -> EventStore``; otherwise :func:`tidings.eventstore.event_store_for`
builds the service's store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tidings.errors import ConfigurationError
from tidings.eventstore.base import EventStore
from tidings.projections.definition import Projection
from tidings.storage.database import Database
from tidings.system import System

EXTRAS_KEY = "projections"
STORE_KEY = "event_store"


def projections_of(system: System) -> list[Projection]:
    declared: Any = system.extras.get(EXTRAS_KEY, ())
    if not isinstance(declared, Sequence) or not all(isinstance(p, Projection) for p in declared):
        raise ConfigurationError(
            f"system {system.name}: extras['projections'] must list Projections"
        )
    return list(declared)


def find_projection(system: System, name: str) -> Projection:
    for projection in projections_of(system):
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in projections_of(system)) or "none"
    raise ConfigurationError(f"system {system.name} has no projection {name!r} (it has {known})")


def service_of(system: System, projection: Projection) -> str:
    if projection.service is not None:
        return system.service(projection.service).name
    if len(system.services) == 1:
        return system.services[0].name
    raise ConfigurationError(
        f"projection {projection.name} names no service and system {system.name} has several"
    )


def store_for(system: System, database: Database) -> EventStore:
    factory: Callable[[Database], EventStore] | None = system.extras.get(STORE_KEY)
    if factory is not None:
        return factory(database)
    import importlib

    # The adapters' factory: ``event_store_for(database)`` in the package or its factory module.
    for module_name in ("tidings.eventstore", "tidings.eventstore.factory"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        make = getattr(module, "event_store_for", None)
        if make is not None:
            store: EventStore = make(database)
            return store
    raise ConfigurationError(
        "no event store factory: tidings.eventstore.event_store_for is missing"
    )
