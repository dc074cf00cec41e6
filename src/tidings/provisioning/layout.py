"""Which backend each service's database lives on: one answer for ``tidings db
provision``, ``db drop``, ``up`` and ``isolation check``, so what is provisioned is
what runs, and what is checked is what runs."""

from __future__ import annotations

from tidings.storage.capabilities import Backend
from tidings.system import Service, System


def layout(
    system: System, backend: Backend, *, uniform: bool = False
) -> dict[Backend, list[Service]]:
    """The services grouped by the backend their database goes on.

    By default each service keeps the backend it declares, except that ``backend``
    replaces PostgreSQL (the design's default server), and with ``backend`` SQLite
    every service is a file (the embedded layout). With ``uniform`` every service
    goes on ``backend``, whatever it declares.
    """
    groups: dict[Backend, list[Service]] = {}
    for service in system.services:
        moves = uniform or backend is Backend.SQLITE or service.backend is Backend.POSTGRESQL
        chosen = backend if moves else service.backend
        groups.setdefault(chosen, []).append(service)
    return groups


def describe(groups: dict[Backend, list[Service]]) -> str:
    """One line: ``postgresql: users, catalog; mariadb: payments``."""
    return "; ".join(
        f"{backend.value}: {', '.join(service.name for service in services)}"
        for backend, services in groups.items()
    )
