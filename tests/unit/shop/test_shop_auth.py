"""Who may do what in the shop: every guarded route refuses the roles it is not for
(401 without a token, 403 with the wrong one), customers act on their own orders only,
and operator endpoints take the operator token once one is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from shop.analytics.facts import ChdbFactStore
from shop.client import TokenAuth, password_auth, service_auth, staff_auth
from shop.common.auth import AuthConfig, Role
from shop.runtime import Shop
from shop.system import system
from shop.testing import Pump, http_client, migrate
from shop.users.tables import users as users_table
from tidings.brokers.memory import MemoryBroker
from tidings.storage.database import Database

# One shop for the module: every login hashes or verifies with argon2, slow on purpose.
pytestmark = pytest.mark.asyncio(loop_scope="module")

ANONYMOUS = "anonymous"
ADA_PASSWORD = "ada's long password"
BOB_PASSWORD = "bob's long password"


@dataclass
class World:
    shop: Shop
    auth: AuthConfig
    clients: dict[str, httpx.AsyncClient]
    staff: TokenAuth
    service: TokenAuth
    ada: TokenAuth
    bob: TokenAuth
    ada_id: str
    bob_id: str
    mug: str
    pump: Pump

    def acting(self, who: str) -> httpx.Auth | None:
        return {
            ANONYMOUS: None,
            "ada": self.ada,
            "bob": self.bob,
            "staff": self.staff,
            "service": self.service,
        }[who]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp_path: Path = tmp_path_factory.mktemp("auth")
    databases = {
        service.name: Database(service.name, f"sqlite+aiosqlite:///{tmp_path}/{service.name}.db")
        for service in system.services
    }
    for name, database in databases.items():
        await migrate(database, name)
    auth = AuthConfig.ephemeral(staff=True)
    shop = Shop(databases, ChdbFactStore(tmp_path / "chdb"), auth=auth)
    pump = Pump(databases, shop.consumers())
    try:
        async with AsyncExitStack() as stack:
            broker = await stack.enter_async_context(MemoryBroker())
            # Running users keeps the bootstrap staff account, as on every start.
            await stack.enter_async_context(shop.running(broker, services=["users"]))
            clients = {
                name: await stack.enter_async_context(http_client(app))
                for name, app in shop.apps.items()
            }
            users = clients["users"]
            staff = staff_auth(users, auth)
            ada_id = await _register(users, "ada@example.com", ADA_PASSWORD)
            bob_id = await _register(users, "bob@example.com", BOB_PASSWORD)
            product = {"sku": "MUG", "name": "Mug", "price_cents": 900}
            created = await clients["catalog"].post("/products", json=product, auth=staff)
            mug = created.json()["id"]
            adjustment = {"delta": 10, "reason": "in"}
            stocked = await clients["inventory"].post(
                f"/stock/{mug}/adjustments", json=adjustment, auth=staff
            )
            assert stocked.status_code == 200, stocked.text
            await pump.run()
            yield World(
                shop=shop,
                auth=auth,
                clients=clients,
                staff=staff,
                service=service_auth(auth),
                ada=password_auth(users, "ada@example.com", ADA_PASSWORD),
                bob=password_auth(users, "bob@example.com", BOB_PASSWORD),
                ada_id=ada_id,
                bob_id=bob_id,
                mug=mug,
                pump=pump,
            )
    finally:
        await shop.close()


async def _register(users: httpx.AsyncClient, email: str, password: str) -> str:
    body = {"email": email, "name": email.split("@")[0], "password": password}
    response = await users.post("/users", json=body)
    assert response.status_code == 201, response.text
    assert "password" not in response.text
    assert "hash" not in response.text
    user_id: str = response.json()["id"]
    return user_id


EVERYONE = (ANONYMOUS, "ada", "staff", "service")


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    allowed: tuple[str, ...]
    body: dict[str, object] | None = None


def routes(w: World) -> list[Route]:
    """Every guarded route with the callers it admits (``ada`` is a customer)."""
    order_body = {"lines": [{"product_id": w.mug, "quantity": 1}]}
    payment = {"order_id": "o-x", "amount_cents": 100}
    notification = {
        "idempotency_key": "k-1",
        "recipient": "a@b.co",
        "subject": "hi",
        "body": "hello",
    }
    reservation = {"order_id": "o-r", "lines": [{"product_id": w.mug, "quantity": 1}]}
    staff, back_office = ("staff",), ("staff", "service")
    return [
        Route("users", "GET", "/users", staff),
        Route("users", "GET", f"/users/{w.ada_id}", ("ada", "staff")),
        Route("users", "PATCH", f"/users/{w.ada_id}", ("ada", "staff"), {"version": 9}),
        Route("users", "DELETE", f"/users/{w.bob_id}?version=9", staff),
        Route("catalog", "GET", "/products", EVERYONE),
        Route("catalog", "POST", "/products", staff, {"sku": "X", "name": "X", "price_cents": 1}),
        Route("catalog", "PATCH", f"/products/{w.mug}", staff, {"version": 9}),
        Route("catalog", "DELETE", f"/products/{w.mug}?version=9", staff),
        Route("inventory", "GET", f"/stock/{w.mug}", EVERYONE),
        Route(
            "inventory", "POST", f"/stock/{w.mug}/adjustments", staff, {"delta": 1, "reason": "r"}
        ),
        Route("inventory", "POST", "/reservations", ("service",), reservation),
        Route("inventory", "GET", "/reservations/o-r", back_office),
        Route("inventory", "DELETE", "/reservations/o-r", ("service",)),
        Route("orders", "POST", "/orders", ("ada", "staff"), order_body),
        Route("orders", "GET", "/orders", ("ada", "staff", "service")),
        Route("orders", "GET", f"/replicas/customers/{w.ada_id}", back_office),
        Route("orders", "GET", f"/replicas/prices/{w.mug}", back_office),
        Route("orders", "GET", f"/customers/{w.ada_id}/orders", ("ada", "staff")),
        Route("payments", "POST", "/payments", ("service",), payment),
        Route("payments", "GET", "/payments", back_office),
        Route("payments", "GET", "/payments/p-x", back_office),
        Route("payments", "POST", "/payments/p-x/refund", back_office, {"version": 1}),
        Route("payments", "GET", "/ledger", back_office),
        Route("payments", "GET", "/ledger/totals", back_office),
        Route("notifications", "POST", "/notifications", ("service",), notification),
        Route("notifications", "GET", "/notifications", back_office),
        Route("notifications", "GET", "/notifications/n-x", back_office),
        Route("analytics", "GET", "/sales/totals", back_office),
        Route("analytics", "GET", "/sales/by-product", back_office),
        Route("search", "GET", "/search?q=mug", EVERYONE),
    ]


async def test_each_role_is_refused_what_it_may_not_do(world: World) -> None:
    wrong: list[str] = []
    for route in routes(world):
        for who in EVERYONE:
            client = world.clients[route.service]
            response = await client.request(
                route.method, route.path, json=route.body, auth=world.acting(who)
            )
            if who in route.allowed:
                expected = "admitted"
                ok = response.status_code not in (401, 403)
            elif who == ANONYMOUS:
                expected = "401"
                ok = response.status_code == 401
                ok = ok and response.headers.get("www-authenticate") == "Bearer"
            else:
                expected = "403"
                ok = response.status_code == 403
            if not ok:
                wrong.append(
                    f"{who} {route.method} {route.service}{route.path}: expected {expected}, "
                    f"got {response.status_code} {response.text[:120]}"
                )
    assert wrong == []


async def test_login_gives_a_token_naming_the_user_and_role(world: World) -> None:
    users = world.clients["users"]
    answer = await users.post(
        "/auth/token", json={"email": "ada@example.com", "password": ADA_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert (token["user_id"], token["role"], token["token_type"]) == (
        world.ada_id,
        "customer",
        "bearer",
    )
    principal = world.auth.verify(token["access_token"])
    assert (principal.subject, principal.role) == (world.ada_id, Role.CUSTOMER)
    staff = await users.post(
        "/auth/token",
        json={"email": world.auth.staff_email, "password": world.auth.staff_password},
    )
    assert staff.json()["role"] == "staff"


async def test_a_wrong_password_and_an_unknown_email_are_refused_alike(world: World) -> None:
    users = world.clients["users"]
    wrong = await users.post("/auth/token", json={"email": "ada@example.com", "password": "nope"})
    unknown = await users.post("/auth/token", json={"email": "eve@example.com", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    # Nothing but the request id differs, so nothing tells which emails exist.
    assert {**wrong.json(), "request_id": None} == {**unknown.json(), "request_id": None}


async def test_the_password_is_stored_as_an_argon2_hash_only(world: World) -> None:
    async with world.shop.databases["users"].connect() as connection:
        stored = (
            await connection.execute(
                select(users_table.c.password_hash, users_table.c.role).where(
                    users_table.c.id == world.ada_id
                )
            )
        ).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert ADA_PASSWORD not in stored.password_hash
    assert stored.role == "customer"


async def test_registering_without_a_password_is_422_naming_it(world: World) -> None:
    response = await world.clients["users"].post(
        "/users", json={"email": "c@example.com", "name": "C"}
    )
    assert response.status_code == 422
    assert ["body", "password"] in [error["loc"] for error in response.json()["detail"]]


async def test_a_customer_sees_and_cancels_only_their_own_orders(world: World) -> None:
    orders = world.clients["orders"]
    body = {"lines": [{"product_id": world.mug, "quantity": 1}]}
    placed = await orders.post("/orders", json=body, auth=world.ada)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["user_id"] == world.ada_id  # from the token
    theirs = f"/orders/{order['id']}"

    # Bob: another customer's order does not exist for him, and he cannot act on it.
    assert (await orders.get(theirs, auth=world.bob)).status_code == 404
    cancel = await orders.post(f"{theirs}/cancel", json={"version": 1}, auth=world.bob)
    assert cancel.status_code == 404
    listed = (await orders.get("/orders", auth=world.bob)).json()
    assert {item["user_id"] for item in listed["items"]} <= {world.bob_id}
    asked = await orders.get("/orders", params={"user_id": world.ada_id}, auth=world.bob)
    assert asked.status_code == 403
    history = await orders.get(f"/customers/{world.ada_id}/orders", auth=world.bob)
    assert history.status_code == 403
    as_ada = {**body, "user_id": world.ada_id}
    assert (await orders.post("/orders", json=as_ada, auth=world.bob)).status_code == 403
    # ... nor pay for it: taking a payment is the saga's, never a customer's.
    payment = {"order_id": order["id"], "amount_cents": order["total_cents"]}
    paid = await world.clients["payments"].post("/payments", json=payment, auth=world.bob)
    assert paid.status_code == 403

    # Ada sees hers; staff see everyone's and may cancel any.
    assert (await orders.get(theirs, auth=world.ada)).json()["id"] == order["id"]
    mine = (await orders.get("/orders", auth=world.ada)).json()
    assert order["id"] in [item["id"] for item in mine["items"]]
    assert {item["user_id"] for item in mine["items"]} == {world.ada_id}
    everyone = (await orders.get("/orders", auth=world.staff)).json()
    assert {item["user_id"] for item in everyone["items"]} >= {world.ada_id}
    assert (await orders.get(theirs, auth=world.staff)).status_code == 200
    staff_cancel = await orders.post(f"{theirs}/cancel", json={"version": 1}, auth=world.staff)
    assert staff_cancel.status_code == 200, staff_cancel.text
    assert staff_cancel.json()["status"] == "cancelled"


async def test_a_forged_or_expired_token_is_401(world: World) -> None:
    orders = world.clients["orders"]
    forged = AuthConfig.ephemeral().issue(world.ada_id, Role.STAFF).access_token
    expired = world.auth.issue(world.ada_id, Role.CUSTOMER, ttl=-10).access_token
    for token in (forged, expired, "not-a-jwt"):
        response = await orders.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    assert (
        "expired"
        in (await orders.get("/orders", headers={"Authorization": f"Bearer {expired}"})).json()[
            "detail"
        ]
    )


async def test_staff_service_and_customers_cannot_place_for_the_wrong_customer(
    world: World,
) -> None:
    orders = world.clients["orders"]
    body = {"lines": [{"product_id": world.mug, "quantity": 1}]}
    unnamed = await orders.post("/orders", json=body, auth=world.staff)
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["body", "user_id"]
    for_bob = await orders.post("/orders", json={**body, "user_id": world.bob_id}, auth=world.staff)
    assert for_bob.status_code == 201
    assert for_bob.json()["user_id"] == world.bob_id
    assert (await orders.post("/orders", json=body, auth=world.service)).status_code == 403
