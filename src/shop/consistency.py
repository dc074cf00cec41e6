"""The shop's consistency check: what services hold about each other, compared.

Each service is read through its own service object on its own database (no
service reads another's tables); the check is the only place that looks at
several at once. Orders still in flight (pending) are skipped: their saga has
not finished, so disagreement there is expected, not drift.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from shop.analytics.facts import FactStore
from shop.analytics.service import AnalyticsService
from shop.catalog.service import CatalogService
from shop.inventory.service import InventoryService
from shop.orders.schemas import Order, OrderStatus
from shop.orders.service import OrdersService
from shop.payments.service import PaymentsService
from shop.search.service import SearchService
from shop.users.service import UsersService
from tidings.consistency import Check, FunctionCheck
from tidings.consistency import Drift as LibraryDrift
from tidings.consistency.drift import DriftKind
from tidings.errors import NotFound
from tidings.settings import load_settings
from tidings.storage.database import Database

PAGE = 500


@dataclass(frozen=True)
class Drift:
    check: str
    ids: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Services:
    users: UsersService
    catalog: CatalogService
    inventory: InventoryService
    orders: OrdersService
    payments: PaymentsService
    search: SearchService
    analytics: AnalyticsService


async def _all_orders(orders: OrdersService) -> list[Order]:
    found: list[Order] = []
    while True:
        page, total = await orders.page(limit=PAGE, offset=len(found))
        found.extend(page)
        if not page or len(found) >= total:
            return found


async def check(services: Services) -> list[Drift]:
    """Every drift found, each with the ids involved; empty when the shop agrees."""
    drift: list[Drift] = []
    orders = [o for o in await _all_orders(services.orders) if o.status is not OrderStatus.PENDING]
    drift += await _reservations(services, orders)
    drift += await _payments(services, orders)
    drift += await _replicas(services)
    drift += await _analytics(services, orders)
    return drift


async def _reservations(services: Services, orders: list[Order]) -> list[Drift]:
    drift = []
    for order in orders:
        reservation = await services.inventory.reservation(order.id)
        wanted: Counter[str] = Counter()
        for line in order.lines:
            wanted[line.product_id] += line.quantity
        if order.status is OrderStatus.CONFIRMED:
            if reservation.status != "placed" or dict(wanted) != reservation.quantities:
                drift.append(
                    Drift(
                        "order-reservation",
                        (order.id,),
                        f"confirmed order holds {reservation.status} {reservation.quantities}, "
                        f"wants {dict(wanted)}",
                    )
                )
        elif reservation.status == "placed":
            drift.append(
                Drift("order-reservation", (order.id,), f"{order.status} order still holds stock")
            )
    return drift


async def _payments(services: Services, orders: list[Order]) -> list[Drift]:
    drift = []
    for order in orders:
        entries = await services.payments.ledger(order_id=order.id)
        balance = sum(entry.amount_cents for entry in entries)
        expected = order.total_cents if order.status is OrderStatus.CONFIRMED else 0
        if balance != expected:
            ids = (order.id, *sorted({entry.payment_id for entry in entries}))
            drift.append(
                Drift(
                    "order-ledger",
                    ids,
                    f"{order.status} order of {order.total_cents}: ledger holds {balance}",
                )
            )
    return drift


async def _replicas(services: Services) -> list[Drift]:
    drift = []
    users, _ = await services.users.page(limit=PAGE)
    for user in users:
        try:
            replica = await services.orders.customer(user.id)
        except NotFound:
            drift.append(Drift("user-replica", (user.id,), "not replicated to orders"))
            continue
        if (replica.email, replica.name) != (user.email, user.name):
            drift.append(
                Drift("user-replica", (user.id,), f"orders holds {replica.email}/{replica.name}")
            )
    products, _ = await services.catalog.page(limit=PAGE)
    for product in products:
        try:
            price = await services.orders.price(product.id)
        except NotFound:
            drift.append(Drift("price-replica", (product.id,), "not replicated to orders"))
        else:
            if (price.price_cents, price.currency) != (product.price_cents, product.currency):
                drift.append(
                    Drift("price-replica", (product.id,), f"orders prices it {price.price_cents}")
                )
        try:
            document = await services.search.get(product.id)
        except NotFound:
            drift.append(Drift("search-index", (product.id,), "not in the search index"))
        else:
            if (document.name, document.price_cents) != (product.name, product.price_cents):
                drift.append(Drift("search-index", (product.id,), "index is stale"))
    return drift


async def _analytics(services: Services, orders: list[Order]) -> list[Drift]:
    confirmed = [order for order in orders if order.status is OrderStatus.CONFIRMED]
    totals = await services.analytics.totals()
    revenue = sum(order.total_cents for order in confirmed)
    if (totals.orders, totals.revenue_cents) != (len(confirmed), revenue):
        return [
            Drift(
                "analytics-totals",
                (),
                f"analytics counts {totals.orders} orders / {totals.revenue_cents}; "
                f"orders has {len(confirmed)} / {revenue}",
            )
        ]
    return []


SERVICES_CHECKED = ("users", "catalog", "inventory", "orders", "payments", "search", "analytics")


async def _analytics_facts() -> FactStore:
    """Analytics' sales facts for a check run beside the shop.

    A running analytics service holds its chDB files, so when ``tidings up`` recorded
    where it listens and it answers, read through its API; else (stopped, or facts on
    a ClickHouse server) read the store itself.
    """
    from shop.analytics.facts import HttpFactReader, fact_store
    from shop.client import client_config, operator_auth
    from shop.system import system

    url = os.environ.get(system.service("analytics").http_url_var)
    if url:
        reader = HttpFactReader(url, auth=operator_auth(client_config()))
        try:
            await reader.ping()
        except httpx.TransportError:  # nothing answers there: the shop is stopped
            await reader.close()
        else:
            return reader
    return fact_store(load_settings().data_dir / "shop")


def declared_checks() -> list[Check]:
    """The shop's check for ``tidings consistency check --system shop``.

    It reads each service through its own service object on the database that
    ``tidings`` opened for it, exactly as the demo does.
    """

    async def run(databases: Mapping[str, Database]) -> list[LibraryDrift]:
        # Imported when run: the runtime pulls in every service's app.
        from shop.runtime import Shop

        shop = Shop(dict(databases), await _analytics_facts())
        try:
            found = await check(shop.services())
        finally:
            await shop.facts.close()
        return [
            LibraryDrift(
                check=f"shop.{drift.check}",
                kind=DriftKind.DIFFERENT,
                ids=drift.ids,
                expected=None,
                actual=drift.detail,
                services=(),
            )
            for drift in found
        ]

    return [FunctionCheck("shop", SERVICES_CHECKED, run, "what services hold about each other")]
