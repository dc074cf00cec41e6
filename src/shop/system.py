"""The shop: eight services, each owning its database (see docs/patterns.md).

``tidings.system.get_system("shop")`` imports this module and reads ``system``.
Importing it connects to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from shop.analytics import tables as analytics_tables
from shop.catalog import tables as catalog_tables
from shop.inventory import tables as inventory_tables
from shop.notifications import tables as notifications_tables
from shop.orders import saga as order_saga
from shop.orders import tables as orders_tables
from shop.payments import tables as payments_tables
from shop.search import tables as search_tables
from shop.users import tables as users_tables
from tidings.consistency import Check
from tidings.settings import Settings
from tidings.storage.capabilities import Backend
from tidings.system import Service, System

if TYPE_CHECKING:
    from tidings.loadgen import LoadTarget, Scenario
    from tidings.processes import ServeRequest

_HERE = Path(__file__).parent

# The library tables each kind of service's migrations create.
_PUBLISHES = ("audit_log", "outbox")
_CONSUMES = ("audit_log", "inbox", "inbox_positions", "dead_letters")
_BOTH = ("audit_log", "outbox", "inbox", "inbox_positions", "dead_letters")


def _migrations(service: str) -> Path:
    return _HERE / service / "migrations"


users = Service(
    name="users",
    metadata=users_tables.metadata,
    migrations=_migrations("users"),
    library_tables=_PUBLISHES,
    description="customers and their profiles",
    backend=Backend.POSTGRESQL,
)
catalog = Service(
    name="catalog",
    metadata=catalog_tables.metadata,
    migrations=_migrations("catalog"),
    library_tables=_PUBLISHES,
    description="products and prices; feeds search",
    backend=Backend.POSTGRESQL,
)
inventory = Service(
    name="inventory",
    metadata=inventory_tables.metadata,
    migrations=_migrations("inventory"),
    library_tables=(*_BOTH, "events", "snapshots"),
    description="stock and reservations, event-sourced",
    append_only=("audit_log", "events"),
    backend=Backend.POSTGRESQL,
)
orders = Service(
    name="orders",
    metadata=orders_tables.metadata,
    migrations=_migrations("orders"),
    library_tables=(*_BOTH, "saga_instances", "saga_steps"),
    append_only=("audit_log", "saga_steps"),
    description="orders, order lines, replicas of users and prices",
    backend=Backend.POSTGRESQL,
)
payments = Service(
    name="payments",
    metadata=payments_tables.metadata,
    migrations=_migrations("payments"),
    library_tables=_BOTH,
    description="payments and the append-only ledger",
    backend=Backend.MARIADB,
    append_only=payments_tables.APPEND_ONLY,
)
notifications = Service(
    name="notifications",
    metadata=notifications_tables.metadata,
    migrations=_migrations("notifications"),
    library_tables=_BOTH,
    description="notifications sent, once per key",
    backend=Backend.SQLITE,
)
search = Service(
    name="search",
    metadata=search_tables.metadata,
    migrations=_migrations("search"),
    library_tables=_CONSUMES,
    description="product search index, projected from catalog",
    backend=Backend.POSTGRESQL,
)
analytics = Service(
    name="analytics",
    metadata=analytics_tables.metadata,
    migrations=_migrations("analytics"),
    library_tables=_CONSUMES,
    description="sales facts in ClickHouse (chDB embedded)",
    files=("analytics.chdb",),
    # Its relational database only holds the library's tables; the facts are in ClickHouse.
    backend=Backend.POSTGRESQL,
)


async def _demo(system: System, settings: Settings) -> None:
    # Imported when run: the demo pulls in every service's app and the broker.
    from shop.demo import run_demo

    await run_demo(system, settings)


async def _serve(request: ServeRequest) -> None:
    # Imported when run: serving pulls in the service's app, uvicorn and the broker.
    from shop.serve import serve

    await serve(request)


def _load(target: LoadTarget) -> AbstractAsyncContextManager[Scenario]:
    from shop.serve import shop_load

    return shop_load(target)


def _runtime_env(existing: Mapping[str, str]) -> dict[str, str]:
    from shop.common.auth import generated_env

    return generated_env(existing)


def _consistency_checks() -> list[Check]:
    from shop.consistency import declared_checks

    return declared_checks()


SERVICES = (users, catalog, inventory, orders, payments, notifications, search, analytics)

system = System(
    name="shop",
    services=SERVICES,
    description="the reference e-commerce system: eight services, a database each",
    demo=_demo,
    extras={
        "sagas": (order_saga.orchestrator(),),
        "serve": _serve,
        "load": _load,
        "consistency": _consistency_checks,
        "runtime_env": _runtime_env,
    },
)
