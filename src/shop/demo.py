"""``tidings demo --system shop``: the whole shop in one process, on the embedded
default (a SQLite file per service, chDB for analytics, the in-process broker).

Customers register and log in; the bootstrap staff account logs in and seeds
products and stock; each customer places their orders with their own token (orders
that confirm, run out of stock and meet declined cards). It waits until the shop is
quiet, then prints what each service holds and the consistency check.
With ``<SERVICE>_DATABASE_URL`` and ``TIDINGS_BROKER_URL`` set, the same flow runs
on real servers.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from shop import consistency
from shop.analytics.facts import fact_store
from shop.client import Customer, TokenAuth, new_customer, staff_auth
from shop.common.auth import AuthConfig
from shop.common.http import in_process_client
from shop.runtime import Shop
from tidings.brokers.base import Broker
from tidings.brokers.factory import broker_from_url
from tidings.inbox import sync_delay_percentiles
from tidings.migrations.runner import upgrade
from tidings.settings import Settings
from tidings.system import System

CUSTOMERS = (("ada", "Ada Lovelace"), ("grace", "Grace Hopper"), ("alan", "Alan Turing"))
PRODUCTS = (  # sku, name, price in cents, units in stock
    ("MUG", "Blue mug", 1200, 10),
    ("POT", "Teapot", 3000, 2),
    ("KETTLE", "Copper kettle", 4500, 1),
    ("TEA", "Green tea, 100 g", 800, 20),
)
ORDERS = (  # customer, [(sku, quantity)], payment method
    ("ada", [("MUG", 2)], "card"),
    ("grace", [("POT", 1), ("TEA", 3)], "card"),
    ("alan", [("KETTLE", 1)], "card"),
    ("ada", [("KETTLE", 1)], "card"),
    ("grace", [("POT", 5)], "card"),
    ("alan", [("MUG", 1)], "declined"),
    ("ada", [("TEA", 2), ("MUG", 1)], "declined"),
    ("grace", [("MUG", 3)], "card"),
    ("ada", [("TEA", 5)], "card"),
)
WAIT_SECONDS = 90.0


def broker_for(settings: Settings, namespace: str = "shop") -> Broker:
    """``TIDINGS_BROKER_URL``'s broker (``memory://`` by default), unconnected."""
    return broker_from_url(settings.broker_url, namespace=namespace)


async def run_demo(system: System, settings: Settings) -> None:
    console = Console(highlight=False)
    folder = settings.data_dir / system.name
    embedded = all(str(folder) in system.database_url(s.name, settings) for s in system.services)
    if embedded and folder.exists():
        shutil.rmtree(folder)  # the demo's own folder: start from empty databases
    databases = {s.name: system.database(s.name, settings) for s in system.services}
    for service in system.services:
        await upgrade(databases[service.name], service)
    where = folder if embedded else "their servers"
    console.print(f"migrated {len(databases)} databases, one per service, in {where}")
    async with broker_for(settings, namespace=system.name) as broker:
        # The environment's secrets on servers; in one process, fresh ones with a staff
        # account whose password only this run knows.
        auth = AuthConfig.from_env() or AuthConfig.ephemeral(staff=True)
        shop = Shop(databases, fact_store(folder), broker=broker, auth=auth)
        try:
            async with shop.running(broker):
                await _run(console, shop, auth)
        finally:
            await shop.close()


async def _run(console: Console, shop: Shop, auth: AuthConfig) -> None:
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        http = {
            name: await stack.enter_async_context(in_process_client(app))
            for name, app in shop.apps.items()
        }
        for name, client in http.items():
            ready = await client.get("/health/ready")
            if ready.status_code != 200:
                raise RuntimeError(f"{name} is not ready: {ready.text}")
        run = uuid.uuid4().hex[:6]  # lets the demo run again on servers that keep data
        users = {
            key: await new_customer(http["users"], f"{key}.{run}@example.com", name)
            for key, name in CUSTOMERS
        }
        staff = staff_auth(http["users"], auth)
        await staff.token()
        console.print(f"{len(users)} customers registered and logged in; staff logged in")
        products: dict[str, dict[str, Any]] = {}
        for sku, name, price, units in PRODUCTS:
            product = await _ok(
                http["catalog"].post(
                    "/products",
                    json={"sku": f"{sku}-{run}", "name": name, "price_cents": price},
                    auth=staff,
                )
            )
            await _ok(
                http["inventory"].post(
                    f"/stock/{product['id']}/adjustments",
                    json={"delta": units, "reason": "opening stock"},
                    auth=staff,
                )
            )
            products[sku] = product
        await _wait(
            "orders to learn the customers and prices",
            lambda: _replicated(http["orders"], staff, users, products),
        )
        placed = []
        for customer, lines, method in ORDERS:
            body = {  # no user_id: the order is the token's customer's
                "lines": [{"product_id": products[sku]["id"], "quantity": n} for sku, n in lines],
                "payment_method": method,
            }
            placed.append(
                await _ok(http["orders"].post("/orders", json=body, auth=users[customer].auth))
            )
        console.print(f"placed {len(placed)} orders; the order saga takes it from here")

        async def quiet() -> bool:
            pending = (
                await _ok(http["orders"].get("/orders", params={"status": "pending"}, auth=staff))
            )["total"]
            return pending == 0 and not await consistency.check(shop.services())

        await _wait("every order to reach a final status and the services to agree", quiet)
        drift = await consistency.check(shop.services())
        console.print(f"the shop was quiet after {time.monotonic() - started:.1f}s")
        await _summary(console, shop, http, staff, products, drift)


async def _summary(
    console: Console,
    shop: Shop,
    http: dict[str, httpx.AsyncClient],
    staff: TokenAuth,
    products: dict[str, dict[str, Any]],
    drift: list[consistency.Drift],
) -> None:
    orders = (await _ok(http["orders"].get("/orders", params={"limit": 500}, auth=staff)))["items"]
    by_status = Counter(order["status"] for order in orders)
    table = Table(title="Orders by final status")
    table.add_column("status")
    table.add_column("orders", justify="right")
    for status in ("confirmed", "rejected", "cancelled", "pending"):
        table.add_row(status, str(by_status.get(status, 0)))
    console.print(table)

    stock = Table(title="Stock per product (inventory, event-sourced)")
    for column in ("product", "on hand", "reserved", "available"):
        stock.add_column(column, justify="right" if column != "product" else "left")
    for product in products.values():
        level = await _ok(http["inventory"].get(f"/stock/{product['id']}"))
        stock.add_row(
            product["name"], str(level["on_hand"]), str(level["reserved"]), str(level["available"])
        )
    console.print(stock)

    totals = await _ok(http["payments"].get("/ledger/totals", auth=staff))
    sales = await _ok(http["analytics"].get("/sales/totals", auth=staff))
    money = Table(title="Money")
    money.add_column("")
    money.add_column("cents", justify="right")
    money.add_row("ledger: charged", str(totals["charged_cents"]))
    money.add_row("ledger: refunded", str(totals["refunded_cents"]))
    money.add_row("ledger: balance", str(totals["balance_cents"]))
    money.add_row("analytics: revenue", str(sales["revenue_cents"]))
    console.print(money)

    delays = Table(title="Sync delay, commit to effect (seconds)")
    for column in ("consumer's service", "message type", "count", "p50", "p95", "p99"):
        delays.add_column(column)
    for name, database in shop.databases.items():
        if not shop.consumers(name):
            continue
        for message_type, entry in sorted((await sync_delay_percentiles(database)).items()):
            delays.add_row(
                name,
                message_type,
                str(int(entry["count"])),
                f"{entry['p50']:.3f}",
                f"{entry['p95']:.3f}",
                f"{entry['p99']:.3f}",
            )
    console.print(delays)
    console.print(f"consistency check: {len(drift)} drift found")
    for item in drift:
        console.print(f"  {item.check}: {', '.join(item.ids)}: {item.detail}")


async def _ok(request: Awaitable[httpx.Response]) -> Any:
    response = await request
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


async def _replicated(
    orders: httpx.AsyncClient,
    staff: TokenAuth,
    users: dict[str, Customer],
    products: dict[str, Any],
) -> bool:
    paths = [f"/replicas/customers/{u.user_id}" for u in users.values()]
    paths += [f"/replicas/prices/{p['id']}" for p in products.values()]
    for path in paths:
        if (await orders.get(path, auth=staff)).status_code != 200:
            return False
    return True


async def _wait(what: str, condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    interval = 0.05
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT_SECONDS:.0f}s for {what}")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)
