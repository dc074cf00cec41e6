"""The shop as processes: serve one service (``tidings run``) and drive load
(``tidings load``) through the hooks ``shop.system`` declares.

:func:`serve` runs one service's share of the shop: its HTTP app under uvicorn,
the relay of its outbox, its consumers and (for orders) the saga deadline worker.
It refuses to start without ``SHOP_AUTH_SECRET``, and beyond loopback without
``SHOP_OPERATOR_TOKEN`` (:mod:`shop.common.serving_auth`).
:func:`shop_load` registers customers (each logs in for its own token), creates
products and stock as the bootstrap staff account through the HTTP APIs, and yields
a scenario that places one order as its customer and follows it to its final status.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from shop.analytics.facts import fact_store
from shop.client import Customer, TokenAuth, client_config, password_auth, staff_auth
from shop.common.auth import AuthConfig
from shop.common.serving_auth import serving_auth
from shop.orders.schemas import OrderStatus
from shop.runtime import Shop
from tidings.brokers.factory import broker_from_url
from tidings.errors import ConfigurationError
from tidings.loadgen import LoadTarget, Outcome
from tidings.processes import ServeRequest, serve_asgi
from tidings.storage.database import Database

WAIT_SECONDS = 120.0
"""How long anything the load waits for (replicas, an order's final status) may take."""


async def serve(request: ServeRequest) -> None:
    """Run ``request.service`` until cancelled, then stop it cleanly."""
    system, settings = request.system, request.settings
    auth = serving_auth(request.host, AuthConfig.from_env())
    # system.database() also makes an embedded file's folder; nothing connects yet.
    url = system.database(request.service, settings).url
    database = Database(request.service, url, pool_size=request.pool_size)
    facts = fact_store(settings.data_dir / system.name)  # opened only by analytics
    async with broker_from_url(settings.broker_url, namespace=request.namespace) as broker:
        shop = Shop({request.service: database}, facts, broker=broker, auth=auth)
        try:
            # The consumers are subscribed before HTTP answers, so a ready service
            # has its queues bound and hears every event published from then on.
            async with shop.running(broker, services=[request.service]):
                await serve_asgi(shop.apps[request.service], request.host, request.port)
        finally:
            await shop.close()


# -- load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadMix:
    """What the orders of a load look like.

    Every ``declined_every``-th order pays with a declined card (it ends cancelled);
    every ``scarce_every``-th buys one unit of a product that has ``scarce_stock``
    units (all but the first few end rejected); the rest buy plentiful products and
    end confirmed.
    """

    customers: int = 5
    products: int = 4
    declined_every: int = 10
    scarce_every: int = 7
    scarce_stock: int = 2


PLAIN, DECLINED, SCARCE = "plain", "declined", "scarce"


def kind_of(index: int, mix: LoadMix) -> str:
    """Which kind order ``index`` is (scarce wins where both would apply)."""
    if mix.scarce_every and index % mix.scarce_every == mix.scarce_every - 1:
        return SCARCE
    if mix.declined_every and index % mix.declined_every == mix.declined_every - 1:
        return DECLINED
    return PLAIN


class PlacementUnknown(RuntimeError):
    """The connection broke after ``POST /orders`` went out (the orders process died
    mid-request): the order may or may not exist, and sending it again could place it
    twice, so the load reports it instead."""


class ShopScenario:
    """Places order ``index`` as one of ``customers`` and polls it, with that customer's
    token, until it leaves ``pending``."""

    def __init__(
        self,
        orders: httpx.AsyncClient,
        customers: list[Customer],
        plentiful: list[str],
        scarce: str,
        mix: LoadMix,
        seed: int,
    ) -> None:
        self.orders = orders
        self.customers = customers
        self.plentiful = plentiful
        self.scarce = scarce
        self.mix = mix
        self.seed = seed

    def body(self, index: int) -> dict[str, Any]:
        kind = kind_of(index, self.mix)
        chooser = random.Random(self.seed * 1_000_003 + index)
        if kind == SCARCE:
            lines = [{"product_id": self.scarce, "quantity": 1}]
        else:
            picked = chooser.sample(self.plentiful, k=min(2, len(self.plentiful)))
            lines = [{"product_id": p, "quantity": chooser.randint(1, 2)} for p in picked]
        return {
            "lines": lines,
            "payment_method": "declined" if kind == DECLINED else "card",
        }

    def customer(self, index: int) -> Customer:
        """Who places order ``index`` (the order's customer is the token's)."""
        return self.customers[index % len(self.customers)]

    async def one(self, index: int) -> Outcome:
        started = time.perf_counter()
        body = self.body(index)
        auth = self.customer(index).auth
        try:
            placed = await _ok(lambda: self.orders.post("/orders", json=body, auth=auth))
        except httpx.TransportError as error:
            raise PlacementUnknown(f"order {index}: {type(error).__name__}: {error}") from error
        answered = time.perf_counter()
        order = await _until_final(self.orders, placed["id"], auth)
        return Outcome(
            status=order["status"],
            latencies={"place": answered - started, "final": time.perf_counter() - started},
            label=kind_of(index, self.mix),
            detail=placed["id"],
        )


@asynccontextmanager
async def shop_load(
    target: LoadTarget, mix: LoadMix | None = None, auth: AuthConfig | None = None
) -> AsyncIterator[ShopScenario]:
    """Customers, products and stock for ``target.count`` orders, made through the HTTP
    APIs and replicated to orders; yields the scenario that places the orders.

    Products and stock are made as the staff account ``auth`` names (the environment's
    or the runtime env file's by default, see :func:`shop.client.client_config`).
    """
    mix = mix or LoadMix()
    auth = auth or client_config()
    if auth is None:
        raise ConfigurationError(
            "no shop credentials: run `tidings --env-file .tidings/runtime.env load`, "
            "or set SHOP_STAFF_EMAIL and SHOP_STAFF_PASSWORD"
        )
    run = uuid.uuid4().hex[:8]  # a shop that keeps its data can take another load
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with AsyncExitStack() as stack:
        http = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits)
            )
            for name, url in target.urls.items()
            if name in ("users", "catalog", "inventory", "orders")
        }
        staff = staff_auth(http["users"], auth)
        await staff.token()  # a wrong staff password fails the setup, not every order
        customers = [await _customer(http["users"], n, run) for n in range(mix.customers)]
        # Two lines of at most two units each: enough that plentiful stock never runs out.
        plentiful_stock = max(1, target.count) * 4
        plentiful = [
            await _product(http, staff, f"LOAD{n}-{run}", 100 + 50 * n, plentiful_stock)
            for n in range(mix.products)
        ]
        scarce = await _product(http, staff, f"SCARCE-{run}", 2500, mix.scarce_stock)
        paths = [f"/replicas/customers/{c.user_id}" for c in customers]
        paths += [f"/replicas/prices/{p}" for p in [*plentiful, scarce]]
        await _wait(
            lambda: _all_answer(http["orders"], paths, staff), "orders to learn the replicas"
        )
        yield ShopScenario(http["orders"], customers, plentiful, scarce, mix, target.seed)


async def _customer(users: httpx.AsyncClient, n: int, run: str) -> Customer:
    email, password = f"load{n}.{run}@example.com", secrets.token_urlsafe(16)
    body = {"email": email, "name": f"Load {n}", "password": password}
    customer_id: str = (await _ok(lambda: users.post("/users", json=body)))["id"]
    customer = Customer(customer_id, email, password_auth(users, email, password))
    await customer.auth.token()  # log in now: the orders' latencies leave the login out
    return customer


async def _product(
    http: dict[str, httpx.AsyncClient], staff: TokenAuth, sku: str, price: int, units: int
) -> str:
    body = {"sku": sku, "name": f"Product {sku}", "price_cents": price}
    created = await _ok(lambda: http["catalog"].post("/products", json=body, auth=staff))
    product_id: str = created["id"]
    adjustment = {"delta": units, "reason": "load"}
    path = f"/stock/{product_id}/adjustments"
    await _ok(lambda: http["inventory"].post(path, json=adjustment, auth=staff))
    return product_id


async def _until_final(
    orders: httpx.AsyncClient, order_id: str, auth: httpx.Auth
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def final() -> bool:
        found.update(await _ok(lambda: orders.get(f"/orders/{order_id}", auth=auth), safe=True))
        return bool(found["status"] != OrderStatus.PENDING)

    await _wait(final, f"order {order_id} to reach a final status")
    return found


async def _all_answer(client: httpx.AsyncClient, paths: list[str], auth: httpx.Auth) -> bool:
    for path in paths:
        try:
            if (await client.get(path, auth=auth)).status_code != 200:
                return False
        except httpx.ConnectError:
            return False  # restarting: ask again
    return True


UNAVAILABLE = 503
RETRY_SECONDS = 30.0
"""How long a request answered 503 (the service's database is busy or away) is retried."""
RESTART_SECONDS = 90.0
"""How long a service that refuses connections (its process restarting under
``tidings up``) is waited for."""


async def _ok(request: Callable[[], Awaitable[httpx.Response]], *, safe: bool = False) -> Any:
    """The JSON of ``request()``'s answer, retried while the service answers 503 or,
    restarting, refuses the connection.

    503 means the service could not reach its database, so (unless the connection
    broke during the commit itself) nothing was written and even a POST may be sent
    again; a load run prefers that to failing on a moment of a busy server. A refused
    connection sent nothing, so any request may be sent again; a connection that broke
    after the request went out is retried only for ``safe`` (read-only) requests.
    """
    started = time.monotonic()
    interval = 0.1
    while True:
        try:
            response = await request()
        except httpx.TransportError as error:
            retry = safe or isinstance(error, httpx.ConnectError)
            if not retry or time.monotonic() - started > RESTART_SECONDS:
                raise
        else:
            if response.status_code != UNAVAILABLE or time.monotonic() - started > RETRY_SECONDS:
                break
        await asyncio.sleep(interval)
        interval = min(interval * 2, 2.0)
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


async def _wait(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    interval = 0.05
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT_SECONDS:.0f}s for {what}")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)
