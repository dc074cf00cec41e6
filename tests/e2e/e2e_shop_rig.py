"""The shop as eight processes on PostgreSQL (MariaDB for payments, SQLite for
notifications) and a real broker, for the end-to-end tests.

Everything a run creates is its own: databases and roles are named after a
renamed copy of the shop system (``e2e_<hex>``), the broker namespace and the
data folder are fresh, and the ports are free ones. All of it is removed on exit.

Like ``tidings up``, preparing writes the shop's secrets (signing secret, operator
token, bootstrap staff account) into the run's env file and this process's
environment; the rig reads as the staff account and the operator, as a user would.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from shop import consistency
from shop.analytics.facts import HttpFactReader
from shop.client import TokenAuth, operator_auth, staff_auth
from shop.common.auth import AuthConfig
from shop.runtime import Shop
from shop.system import system as shop_system
from tidings.errors import OperationalError, StorageError
from tidings.processes import Supervisor
from tidings.processes.stack import prepare, process_specs, teardown
from tidings.provisioning import read_env_file
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.system import System
from tidings.testing.brokers import BROKER_URLS

READY_SECONDS = 60.0
QUIET_SECONDS = 60.0


@dataclass
class RunningShop:
    system: System
    supervisor: Supervisor
    urls: dict[str, str]
    reader: Shop
    """Every service object on its own database (runtime URL), for the consistency check."""
    auth: AuthConfig
    """The run's secrets, as ``tidings up`` generates them."""
    staff: TokenAuth
    """Logged in as the bootstrap staff account through the users service."""

    async def stop(self) -> dict[str, int | None]:
        """Stop every service (SIGINT, as Ctrl-C would); each one's exit code."""
        await self.supervisor.stop()
        return {name: self.supervisor.returncode(name) for name in self.urls}

    async def drift(self) -> list[consistency.Drift]:
        return await consistency.check(self.reader.services())

    async def pending(self) -> int:
        async with httpx.AsyncClient(base_url=self.urls["orders"], timeout=10.0) as orders:
            params = {"status": "pending", "limit": 1}
            response = await orders.get("/orders", params=params, auth=self.staff)
            response.raise_for_status()
            return int(response.json()["total"])

    async def wait_quiet(self) -> list[consistency.Drift]:
        """Wait until no order is pending and the services agree; return the last drift."""
        last: list[consistency.Drift] = []

        async def quiet() -> bool:
            nonlocal last
            try:
                if await self.pending():
                    return False
                last = await self.drift()
            except (OperationalError, httpx.HTTPStatusError):
                return False  # a server busy with other test runs: ask again
            return not last

        try:
            await eventually(quiet, QUIET_SECONDS, "the shop to be quiet with no drift")
        except TimeoutError as error:
            raise AssertionError(f"{error}; drift: {last}") from None
        return last


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    interval = 0.05
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f}s for {what}")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive ports that are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size >= 65535:
            continue
        if all(_free(port) for port in range(base, base + size)):
            return base
    raise RuntimeError(f"no {size} consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@asynccontextmanager
async def running_shop(
    broker_kind: str,
    folder: Path,
    *,
    run: str | None = None,
    backend: Backend = Backend.POSTGRESQL,
) -> AsyncIterator[RunningShop]:
    """The shop up on ``backend`` (as ``tidings up --backend``: it replaces PostgreSQL).
    ``run`` names the copy (fresh by default); the same ``run`` and ``folder`` again
    start the same copy anew, after the previous one removed everything on exit."""
    run = run or uuid.uuid4().hex[:8]
    test_system = replace(shop_system, name=f"e2e_{run}")
    namespace = f"tidings_e2e_{run}"
    data_dir = folder / "data"
    env_file = folder / "runtime.env"
    settings = Settings(data_dir=data_dir, env_file=env_file)
    saved_environment = dict(os.environ)
    base_port = free_port_block(len(test_system.services))
    specs = process_specs(
        test_system,
        host="127.0.0.1",
        base_port=base_port,
        env_file=env_file,
        broker=BROKER_URLS[broker_kind],
        namespace=namespace,
        log_dir=folder / "logs",
        cli_system=shop_system.name,
        extra_env={"TIDINGS_DATA_DIR": str(data_dir)},
        pool_size=2,
    )
    supervisor = Supervisor(specs, stop_timeout=15.0)
    reader: Shop | None = None
    users = httpx.AsyncClient(base_url={s.name: s.url for s in specs}["users"] or "", timeout=10.0)
    try:
        await prepare(test_system, backend, settings, env_file)
        runtime = read_env_file(env_file)
        auth = AuthConfig.from_env(runtime)
        assert auth is not None, "preparing the shop wrote no signing secret"
        urls = {spec.name: spec.url or "" for spec in specs}
        databases = {
            service.name: Database(service.name, runtime[service.env_var], pool_size=1)
            for service in test_system.services
        }
        facts = HttpFactReader(urls["analytics"], auth=operator_auth(auth))
        reader = Shop(databases, facts, auth=auth)
        await supervisor.start()
        try:
            await supervisor.wait_ready(timeout=READY_SECONDS)
        except Exception as error:
            raise AssertionError(f"{error}\n{_logs(folder / 'logs')}") from error
        yield RunningShop(test_system, supervisor, urls, reader, auth, staff_auth(users, auth))
    finally:
        await users.aclose()
        await supervisor.stop()
        queues = {c.queue for c in reader.consumers()} if reader is not None else set()
        if reader is not None:
            await reader.close()
        await _delete_namespace(broker_kind, namespace, queues)
        os.environ.clear()
        os.environ.update(saved_environment)
        await _teardown(test_system, settings, backend)


async def _teardown(test_system: System, settings: Settings, backend: Backend) -> None:
    # The servers are shared with other test runs; a full connection table is transient,
    # and a database left behind is not, so dropping tries again for a while.
    deadline = time.monotonic() + 30.0
    while True:
        try:
            await teardown(test_system, backend, settings)
            return
        except StorageError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _delete_namespace(kind: str, namespace: str, queues: set[str]) -> None:
    if kind == "rabbitmq":
        from tidings.brokers.rabbitmq import RabbitMQBroker

        async with RabbitMQBroker(BROKER_URLS[kind], namespace=namespace) as rabbit:
            await rabbit.delete_namespace(queues)
    elif kind == "nats":
        from tidings.brokers.nats import NatsBroker

        async with NatsBroker(BROKER_URLS[kind], namespace=namespace) as jetstream:
            await jetstream.delete_namespace()


def _logs(folder: Path) -> str:
    parts = []
    for log in sorted(folder.glob("*.log")):
        parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
    return "\n".join(parts)
