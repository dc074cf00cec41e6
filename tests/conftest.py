"""Shared fixtures: real databases on every backend, and server checks.

A test marked ``postgres``, ``mariadb``, ``rabbitmq`` or ``nats`` needs that server
on loopback. When it does not answer the test fails (it never skips): these
servers are part of the project's machine, and a silent skip would hide a gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tidings.storage.database import Database
from tidings.testing.databases import (
    BACKENDS,
    SERVERS,
    MakeDatabase,
    server_answers,
    temporary_database,
)

BACKEND_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]
SERVER_BACKEND_PARAMS = BACKEND_PARAMS[1:]

_answering: dict[str, bool] = {}


@pytest.fixture(autouse=True)
def _require_servers(request: pytest.FixtureRequest) -> None:
    for server in SERVERS:
        if request.node.get_closest_marker(server) is None:
            continue
        if server not in _answering:
            _answering[server] = server_answers(server)
        if not _answering[server]:
            host, port = SERVERS[server]
            pytest.fail(f"{server} does not answer on {host}:{port}; start it (see README)")


@pytest.fixture
async def make_database(tmp_path: Path) -> AsyncIterator[MakeDatabase]:
    """``await make_database("postgres", service="orders")``: a fresh empty database."""
    async with AsyncExitStack() as stack:

        async def make(backend: str, service: str = "svc") -> Database:
            return await stack.enter_async_context(
                temporary_database(BACKENDS[backend], service, folder=tmp_path)
            )

        yield make


@pytest.fixture(params=BACKEND_PARAMS)
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def database(backend_name: str, make_database: MakeDatabase) -> Database:
    """A fresh empty database, once per backend (sqlite, postgres, mariadb)."""
    return await make_database(backend_name)
