"""Each shop service on a real HTTP server on loopback, for tests that drive its edge.

A service runs under uvicorn in a thread of its own, with its own event loop, on the
backend the reference system gives it (PostgreSQL; payments on MariaDB;
notifications on SQLite; analytics on chDB), in a fresh database dropped afterwards.
Real sockets matter here: whether a connection survives a 500 is the server's
business, not the app's. Every service trusts the tokens of the :class:`AuthConfig`
it is built with; :func:`bearer` makes one for a role.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from shop.analytics.api import create_app as analytics_app
from shop.analytics.facts import ChdbFactStore
from shop.catalog.api import create_app as catalog_app
from shop.common.auth import AuthConfig, Role
from shop.inventory.api import create_app as inventory_app
from shop.notifications.api import create_app as notifications_app
from shop.orders.api import create_app as orders_app
from shop.payments.api import create_app as payments_app
from shop.search.api import create_app as search_app
from shop.testing import migrate
from shop.users.api import create_app as users_app
from tidings.storage.database import Database
from tidings.testing.databases import BACKENDS, temporary_database

Build = Callable[[AsyncExitStack, Path], Awaitable[FastAPI]]

SERVICE_BACKENDS = {
    "users": "postgres",
    "catalog": "postgres",
    "inventory": "postgres",
    "orders": "postgres",
    "search": "postgres",
    "payments": "mariadb",
    "notifications": "sqlite",
    "analytics": "sqlite",
}


async def _database(stack: AsyncExitStack, service: str, folder: Path) -> Database:
    backend = BACKENDS[SERVICE_BACKENDS[service]]
    database = await stack.enter_async_context(temporary_database(backend, service, folder=folder))
    return await migrate(database, service)


def bearer(auth: AuthConfig, role: Role, subject: str | None = None) -> dict[str, str]:
    """The header that makes a request ``role``'s (a customer's ``subject`` is their id)."""
    token = auth.issue(subject or f"edge-{role.value}", role).access_token
    return {"Authorization": f"Bearer {token}"}


def builder(service: str, auth: AuthConfig) -> Build:
    """How to build ``service``'s app on its backend, inside the server's loop,
    trusting the tokens ``auth`` signs."""

    async def build(stack: AsyncExitStack, folder: Path) -> FastAPI:
        app = await _app(stack, folder)
        app.state.auth = auth
        return app

    async def _app(stack: AsyncExitStack, folder: Path) -> FastAPI:
        database = await _database(stack, service, folder)
        if service == "analytics":
            facts = ChdbFactStore(folder / "chdb")
            stack.push_async_callback(facts.close)
            return analytics_app(database, facts)
        factories: dict[str, Callable[[Database], FastAPI]] = {
            "users": users_app,
            "catalog": catalog_app,
            "inventory": inventory_app,
            "orders": orders_app,
            "search": search_app,
            "payments": payments_app,
            "notifications": notifications_app,
        }
        return factories[service](database)

    return build


@contextmanager
def served(build: Build, folder: Path, *, timeout: float = 60.0) -> Iterator[str]:
    """Serve the app ``build`` makes on 127.0.0.1 until the block ends; yields its
    base URL. The database and everything else ``build`` opens close with it."""
    ready = threading.Event()
    address: list[str] = []
    failure: list[BaseException] = []
    server_box: list[uvicorn.Server] = []

    async def main() -> None:
        async with AsyncExitStack() as stack:
            app = await build(stack, folder)
            config = uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
            )
            server = uvicorn.Server(config)
            server_box.append(server)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if serving.done():
                await serving  # raises what stopped it
            port = server.servers[0].sockets[0].getsockname()[1]
            address.append(f"http://127.0.0.1:{port}")
            ready.set()
            await serving

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # handed to the test's thread below
            failure.append(error)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="shop-edge-server", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise AssertionError(f"the server did not start within {timeout}s")
    if failure:
        raise failure[0]
    try:
        yield address[0]
    finally:
        if server_box:
            server_box[0].should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"the server did not stop within {timeout}s")
        if failure:
            raise failure[0]
