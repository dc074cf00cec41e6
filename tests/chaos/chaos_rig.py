"""The shop as eight processes under the supervisor ``tidings up`` uses, its broker
reached through a :class:`~tidings.testing.faults.BrokerProxy`, for the chaos runs.

Like the end-to-end rig, everything is the run's own (databases and roles named
``e2e_<hex>``, a fresh broker namespace, free ports) and removed on exit. Unlike
it, the supervisor *supervises*: a service that dies is restarted by it, never by
the test, and the proxy can take the broker away from every service at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from e2e_shop_rig import (
    READY_SECONDS,
    RunningShop,
    _delete_namespace,
    _logs,
    _teardown,
    free_port_block,
)

from shop.analytics.facts import HttpFactReader
from shop.client import operator_auth, staff_auth
from shop.common.auth import AuthConfig
from shop.orders.schemas import OrderStatus
from shop.runtime import Shop
from shop.system import system as shop_system
from tidings.processes.stack import prepare, process_specs
from tidings.provisioning import read_env_file, write_env_file
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.brokers import BROKER_URLS
from tidings.testing.faults import BrokerProxy, RestartPolicy, Supervisor

FINAL = {OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


@dataclass
class ChaosShop(RunningShop):
    proxy: BrokerProxy | None = None
    folder: Path = Path()
    events: list[str] = field(default_factory=list)
    """What the supervisor reported (restarts, crash loops), in order."""

    def consistency_cli(self) -> subprocess.CompletedProcess[str]:
        """``tidings --env-file runtime.env consistency check --system shop``, as a user runs it."""
        environment = {
            **os.environ,
            "TIDINGS_DATA_DIR": str(self.folder / "data"),
            "COLUMNS": "200",
        }
        env_file = ("--env-file", str(self.folder / "runtime.env"))
        command = ("consistency", "check", "--system", "shop")
        return subprocess.run(
            [sys.executable, "-c", "from tidings.cli import main; main()", *env_file, *command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )

    async def violations(self) -> list[str]:
        """Every order not final, and every confirmed order that was refunded or whose
        reservation was released (what a deadline taken for a failure produces)."""
        services = self.reader.services()
        found: list[str] = []
        offset = 0
        while True:
            page, total = await services.orders.page(limit=500, offset=offset)
            for order in page:
                if order.status not in FINAL:
                    found.append(f"order {order.id} is {order.status}, not final")
                    continue
                if order.status is not OrderStatus.CONFIRMED:
                    continue
                refunds = [
                    entry
                    for entry in await services.payments.ledger(order_id=order.id)
                    if entry.kind == "refund"
                ]
                if refunds:
                    found.append(f"confirmed order {order.id} was refunded {len(refunds)} time(s)")
                reservation = await services.inventory.reservation(order.id)
                if reservation.status == "released":
                    found.append(f"confirmed order {order.id} had its reservation released")
            offset += len(page)
            if not page or offset >= total:
                return found

    async def statuses(self) -> Counter[str]:
        services = self.reader.services()
        counts: Counter[str] = Counter()
        offset = 0
        while True:
            page, total = await services.orders.page(limit=500, offset=offset)
            counts.update(str(order.status) for order in page)
            offset += len(page)
            if not page or offset >= total:
                return counts


@asynccontextmanager
async def chaos_shop(broker_kind: str, folder: Path) -> AsyncIterator[ChaosShop]:
    run = uuid.uuid4().hex[:8]
    test_system = replace(shop_system, name=f"e2e_{run}")
    namespace = f"tidings_chaos_{run}"
    data_dir = folder / "data"
    env_file = folder / "runtime.env"
    settings = Settings(data_dir=data_dir, env_file=env_file)
    saved_environment = dict(os.environ)
    base_port = free_port_block(len(test_system.services))
    proxy = BrokerProxy(BROKER_URLS[broker_kind])
    await proxy.start()
    specs = process_specs(
        test_system,
        host="127.0.0.1",
        base_port=base_port,
        env_file=env_file,
        broker=proxy.url,
        namespace=namespace,
        log_dir=folder / "logs",
        cli_system=shop_system.name,
        extra_env={"TIDINGS_DATA_DIR": str(data_dir)},
        pool_size=2,
    )
    events: list[str] = []
    supervisor = Supervisor(specs, stop_timeout=15.0, on_event=events.append)
    reader: Shop | None = None
    users = httpx.AsyncClient(base_url={s.name: s.url for s in specs}["users"] or "", timeout=10.0)
    keeping: asyncio.Future[None] | None = None
    try:
        await prepare(test_system, Backend.POSTGRESQL, settings, env_file)
        runtime = read_env_file(env_file)
        auth = AuthConfig.from_env(runtime)
        assert auth is not None, "preparing the shop wrote no signing secret"
        urls = {spec.name: spec.url or "" for spec in specs}
        by_name = {service.name: service for service in test_system.services}
        write_env_file(env_file, {by_name[name].http_url_var: url for name, url in urls.items()})
        databases = {
            service.name: Database(service.name, runtime[service.env_var], pool_size=1)
            for service in test_system.services
        }
        facts = HttpFactReader(urls["analytics"], auth=operator_auth(auth))
        reader = Shop(databases, facts, auth=auth)
        await supervisor.start()
        keeping = asyncio.ensure_future(supervisor.supervise(RestartPolicy()))
        try:
            await supervisor.wait_ready(timeout=READY_SECONDS * 2)
        except Exception as error:
            raise AssertionError(f"{error}\n{_logs(folder / 'logs')}") from error
        yield ChaosShop(
            test_system,
            supervisor,
            urls,
            reader,
            auth,
            staff_auth(users, auth),
            proxy=proxy,
            folder=folder,
            events=events,
        )
    finally:
        if keeping is not None:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
        await users.aclose()
        await supervisor.stop()
        await proxy.close()
        queues = {c.queue for c in reader.consumers()} if reader is not None else set()
        if reader is not None:
            await reader.close()
        await _delete_namespace(broker_kind, namespace, queues)
        os.environ.clear()
        os.environ.update(saved_environment)
        await _teardown(test_system, settings, Backend.POSTGRESQL)
