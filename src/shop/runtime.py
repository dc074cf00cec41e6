"""The shop's composition root: every service built on its own database, and the
consumers, relays and saga worker that move messages between them.

Nothing here connects until used. :class:`Shop` builds the parts;
:class:`ShopRunning` (``async with shop.running(broker):``) starts a relay per
publishing database, every consumer on the broker, and the saga deadline
worker, and stops them all on exit. The embedded demo runs it in one process;
``tidings run <service>`` can run one service's share of it per process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from fastapi import FastAPI

from shop.analytics import api as analytics_api
from shop.analytics.consumers import sales_consumer
from shop.analytics.facts import ChdbFactStore, FactStore
from shop.catalog import api as catalog_api
from shop.common.auth import AuthConfig, default_auth
from shop.common.guards import OPERATOR
from shop.common.http import ReadinessCheck, broker_check, relay_lag_check
from shop.common.responses import declared
from shop.consistency import Services
from shop.contracts.base import registry
from shop.inventory import api as inventory_api
from shop.inventory.consumers import commands_consumer as inventory_commands
from shop.notifications import api as notifications_api
from shop.notifications.consumers import commands_consumer as notification_commands
from shop.orders import api as orders_api
from shop.orders import saga as order_saga
from shop.orders.commands import commands_consumer as order_commands
from shop.orders.consumers import replica_consumer
from shop.orders.history import history_consumer
from shop.payments import api as payments_api
from shop.payments.consumers import commands_consumer as payment_commands
from shop.payments.gateway import Gateway, SimulatedGateway
from shop.search import api as search_api
from shop.search.consumers import catalog_consumer
from shop.users import api as users_api
from shop.users.credentials import Credentials
from tidings.brokers.base import Broker
from tidings.inbox import Consumer
from tidings.outbox import Relay
from tidings.sagas import DeadlineWorker, SagaEngine, reply_consumer
from tidings.sagas.http import saga_router
from tidings.storage.database import Database

AppFactory = Callable[..., FastAPI]

BUILDERS: dict[str, AppFactory] = {
    "users": users_api.create_app,
    "catalog": catalog_api.create_app,
    "inventory": inventory_api.create_app,
    "orders": orders_api.create_app,
    "payments": payments_api.create_app,
    "notifications": notifications_api.create_app,
    "search": search_api.create_app,
    "analytics": analytics_api.create_app,
}
"""Each service's app factory (orders, payments and analytics take more than a database)."""

PUBLISHERS = ("users", "catalog", "inventory", "orders", "payments", "notifications")
"""The services with an outbox (search and analytics only consume)."""


@dataclass
class Shop:
    """Every service's app and consumers, each on the database it owns."""

    databases: dict[str, Database]
    facts: FactStore
    gateway: Gateway = field(default_factory=SimulatedGateway)
    saga_deadline: float = order_saga.STEP_DEADLINE
    broker: Broker | None = None
    """When given, readiness also checks the broker and (for publishers) the relay's lag."""
    auth: AuthConfig = field(default_factory=default_auth)
    """The secret every app checks tokens with; its staff account is kept by users."""

    def __post_init__(self) -> None:
        # A process may hold only some services' databases (``tidings run orders``):
        # it builds those services and nothing else.
        self.engine: SagaEngine | None = None
        if "orders" in self.databases:
            self.engine = order_saga.orchestrator(self.saga_deadline).engine(
                self.databases["orders"]
            )
        self.apps: dict[str, FastAPI] = {
            name: self._build(name) for name in self.databases if name in BUILDERS
        }

    def _build(self, service: str) -> FastAPI:
        app = self._create(service)
        app.state.auth = self.auth  # one secret for the whole shop, whatever the env says
        if service == "orders":
            # The order saga's status, for operators (``tidings saga`` reads the database).
            app.include_router(
                saga_router(self.databases[service]),
                prefix="/sagas",
                dependencies=[OPERATOR],
                responses=declared(401, 403),
            )
        return app

    def _create(self, service: str) -> FastAPI:
        database = self.databases[service]
        ready = self._readiness(service)
        if service == "orders":
            assert self.engine is not None
            return orders_api.create_app(
                database, start_saga=order_saga.starter(self.engine), readiness=ready
            )
        if service == "payments":
            return payments_api.create_app(database, gateway=self.gateway, readiness=ready)
        if service == "analytics":
            return analytics_api.create_app(database, self.facts, readiness=ready)
        return BUILDERS[service](database, readiness=ready)

    def _readiness(self, service: str) -> list[ReadinessCheck]:
        if self.broker is None:
            return []
        checks = [broker_check(self.broker)]
        if service in PUBLISHERS:
            checks.append(relay_lag_check(self.databases[service]))
        return checks

    def consumers(self, service: str | None = None) -> list[Consumer]:
        """The consumers of ``service`` (of every service this process holds when None)."""
        if service is None:
            return [consumer for name in self.apps for consumer in self.consumers(name)]
        if service not in self.apps:
            return []
        database = self.databases[service]
        state = self.apps[service].state
        if service == "orders":
            assert self.engine is not None
            return [
                reply_consumer(self.engine, registry),
                replica_consumer(database),
                order_commands(database),
                history_consumer(database),
            ]
        if service == "inventory":
            return [inventory_commands(state.inventory)]
        if service == "payments":
            return [payment_commands(state.payments)]
        if service == "notifications":
            return [notification_commands(state.notifications)]
        if service == "search":
            return [catalog_consumer(database)]
        if service == "analytics":
            return [sales_consumer(database, state.analytics)]
        return []

    def services(self) -> Services:
        """The service objects the consistency check reads, each on its own database."""
        state = {name: app.state for name, app in self.apps.items()}
        return Services(
            users=state["users"].users,
            catalog=state["catalog"].catalog,
            inventory=state["inventory"].inventory,
            orders=state["orders"].orders,
            payments=state["payments"].payments,
            search=state["search"].search,
            analytics=state["analytics"].analytics,
        )

    def running(
        self,
        broker: Broker,
        *,
        services: Sequence[str] | None = None,
        poll_interval: float = 0.2,
    ) -> ShopRunning:
        """Run the message machinery of ``services`` (all when None): one process may
        run the whole shop (the demo) or one service (``tidings run <service>``)."""
        return ShopRunning(self, broker, services=services, poll_interval=poll_interval)

    async def close(self) -> None:
        await self.facts.close()
        for database in self.databases.values():
            await database.close()


def shop_queues(auth: AuthConfig) -> list[tuple[str, list[str]]]:
    """Every consumer queue of the whole shop with the topics bound to it.

    Built from a shop on placeholder databases that are never opened (a
    :class:`Database` connects on first use), so a process that runs one service
    knows the queues of all the others without reaching their databases.
    """
    placeholders = {
        name: Database(name, "sqlite+aiosqlite:///:memory:", pool_size=1) for name in BUILDERS
    }
    everything = Shop(placeholders, _UnusedFacts(), auth=auth)
    return [(consumer.queue, consumer.topics) for consumer in everything.consumers()]


class _UnusedFacts(ChdbFactStore):
    """Facts for :func:`shop_queues`' placeholder shop: its analytics is built, never run."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/tidings-placeholder"))


class ShopRunning:
    """Relays, consumers and the saga deadline worker, started on entry, stopped on exit."""

    def __init__(
        self,
        shop: Shop,
        broker: Broker,
        *,
        services: Sequence[str] | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self.shop = shop
        self.broker = broker
        self.services = list(services) if services is not None else list(shop.apps)
        self.poll_interval = poll_interval
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> ShopRunning:
        try:
            await self._keep_staff_account()
            # Queues first: the in-process broker drops what no queue is bound to yet.
            for service in self.services:
                for consumer in self.shop.consumers(service):
                    subscription = await consumer.start(self.broker)
                    self._stack.push_async_callback(subscription.stop)
            # Every other service's queues too, before this process publishes anything:
            # services start in any order (``tidings up``), and what users publishes at
            # start (its staff account) must still reach orders' queue if orders is not
            # up yet. Declaring is idempotent and binds the same topics.
            for queue, topics in shop_queues(self.shop.auth):
                await self.broker.declare_queue(queue, topics)
            for service in [name for name in PUBLISHERS if name in self.services]:
                relay = Relay(
                    self.shop.databases[service],
                    self.broker,
                    poll_interval=self.poll_interval,
                    busy_poll_interval=0.005,
                )
                await self._stack.enter_async_context(relay)
            if self.shop.engine is not None and "orders" in self.services:
                # The saga's home keeps its deadlines.
                worker = DeadlineWorker(self.shop.engine, poll_interval=self.poll_interval)
                await self._stack.enter_async_context(worker)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _keep_staff_account(self) -> None:
        auth = self.shop.auth
        if "users" not in self.services or not auth.staff_email or not auth.staff_password:
            return
        users = self.shop.apps["users"].state.users
        await Credentials(self.shop.databases["users"], auth).ensure_staff(
            users.publisher, auth.staff_email, auth.staff_password
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
