"""The whole shop on SQLite files and chDB, messages handed over without a broker:
replication, search, the order saga's every ending, notifications and analytics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from shop import consistency
from shop.analytics.facts import ChdbFactStore
from shop.client import password_auth
from shop.common.auth import Role
from shop.orders.tables import price_replica
from shop.runtime import Shop
from shop.system import system
from shop.testing import Pump, http_client, migrate
from tidings.brokers.memory import MemoryBroker
from tidings.outbox import outbox_status
from tidings.sagas import get_saga
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    databases = {
        service.name: Database(service.name, f"sqlite+aiosqlite:///{tmp_path}/{service.name}.db")
        for service in system.services
    }
    for name, database in databases.items():
        await migrate(database, name)
    built = Shop(databases, ChdbFactStore(tmp_path / "chdb"))
    try:
        yield built
    finally:
        await built.close()


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def test_orders_reach_every_final_status(shop: Shop) -> None:
    pump = Pump(shop.databases, shop.consumers())
    async with (
        http_client(shop.apps["users"]) as users,
        http_client(shop.apps["catalog"], Role.STAFF) as catalog,
        http_client(shop.apps["inventory"], Role.STAFF) as inventory,
        http_client(shop.apps["orders"], Role.STAFF) as orders,
        http_client(shop.apps["payments"], Role.STAFF) as payments,
        http_client(shop.apps["notifications"], Role.STAFF) as notifications,
        http_client(shop.apps["search"]) as search,
        http_client(shop.apps["analytics"], Role.STAFF) as analytics,
    ):
        registration = {"email": "ada@example.com", "name": "Ada", "password": "tea for two"}
        ada = await ok(await users.post("/users", json=registration), 201)
        # Ada logs in; her token, not the staff's, places and cancels her orders.
        as_ada = password_auth(users, "ada@example.com", "tea for two")
        mug = await ok(
            await catalog.post(
                "/products", json={"sku": "MUG", "name": "Blue mug", "price_cents": 1200}
            ),
            201,
        )
        pot = await ok(
            await catalog.post(
                "/products", json={"sku": "POT", "name": "Teapot", "price_cents": 3000}
            ),
            201,
        )
        await ok(
            await inventory.post(
                f"/stock/{mug['id']}/adjustments", json={"delta": 5, "reason": "in"}
            )
        )
        await ok(
            await inventory.post(
                f"/stock/{pot['id']}/adjustments", json={"delta": 1, "reason": "in"}
            )
        )
        await pump.run()

        # Replicated by events: orders knows the customer and prices, search the products.
        assert (await ok(await orders.get(f"/replicas/customers/{ada['id']}")))[
            "email"
        ] == "ada@example.com"
        assert (await ok(await orders.get(f"/replicas/prices/{mug['id']}")))["price_cents"] == 1200
        assert [
            d["product_id"]
            for d in (await ok(await search.get("/search", params={"q": "teapot"})))["items"]
        ] == [pot["id"]]

        def order(product: dict, quantity: int, method: str = "card") -> dict:
            return {
                "lines": [{"product_id": product["id"], "quantity": quantity}],
                "payment_method": method,
            }

        async def place(body: dict) -> dict:
            placed = await ok(await orders.post("/orders", json=body, auth=as_ada), 201)
            assert placed["user_id"] == ada["id"]  # the token's customer
            return placed

        confirmed = await place(order(mug, 2))
        out_of_stock = await place(order(pot, 2))
        declined = await place(order(mug, 1, "declined"))
        withdrawn = await place(order(mug, 1))
        # The customer cancels before the saga confirms: the payment it takes is refunded.
        cancel = await orders.post(
            f"/orders/{withdrawn['id']}/cancel", json={"version": 1}, auth=as_ada
        )
        await ok(cancel)
        await pump.run()

        async def status(placed: dict) -> tuple[str, str]:
            row = await ok(await orders.get(f"/orders/{placed['id']}", auth=as_ada))
            saga = await get_saga(shop.databases["orders"], placed["id"])
            return row["status"], saga.status.value

        assert await status(confirmed) == ("confirmed", "completed")
        assert await status(out_of_stock) == ("rejected", "failed")
        assert await status(declined) == ("cancelled", "compensated")
        assert await status(withdrawn) == ("cancelled", "compensated")

        # Only the confirmed order still holds stock.
        assert (await ok(await inventory.get(f"/stock/{mug['id']}")))["reserved"] == 2
        assert (await ok(await inventory.get(f"/stock/{pot['id']}")))["reserved"] == 0
        totals = await ok(await payments.get("/ledger/totals"))
        assert (totals["charged_cents"], totals["refunded_cents"]) == (3600, 1200)
        sent = await ok(
            await notifications.get("/notifications", params={"recipient": "ada@example.com"})
        )
        assert sorted(item["subject"] for item in sent["items"]) == [
            "Your order is cancelled",
            "Your order is cancelled",
            "Your order is confirmed",
            "Your order is rejected",
        ]
        # The read side agrees with the write side once the shop is quiet.
        history = await ok(await orders.get(f"/customers/{ada['id']}/orders", auth=as_ada))
        assert sorted((h["order_id"], h["status"]) for h in history) == sorted(
            [
                (confirmed["id"], "confirmed"),
                (out_of_stock["id"], "rejected"),
                (declined["id"], "cancelled"),
                (withdrawn["id"], "cancelled"),
            ]
        )
        assert {h["total_cents"] for h in history} == {2400, 6000, 1200}
        sales = await ok(await analytics.get("/sales/totals"))
        assert sales == {"orders": 1, "units": 2, "revenue_cents": 2400}

        # A second pass finds nothing left to do: every message was applied once.
        assert await pump.run() == 1
        assert await consistency.check(shop.services()) == []

    # Drift planted behind the services' backs is found, with the ids involved.
    async with unit_of_work(shop.databases["orders"]) as uow:
        await uow.execute(update(price_replica).values(price_cents=1))
    found = await consistency.check(shop.services())
    assert {(d.check, d.ids) for d in found} == {
        ("price-replica", (mug["id"],)),
        ("price-replica", (pot["id"],)),
    }


async def test_a_process_may_hold_only_some_services(tmp_path: Path) -> None:
    databases = {
        name: await migrate(Database(name, f"sqlite+aiosqlite:///{tmp_path}/{name}.db"), name)
        for name in ("users", "search")
    }
    partial = Shop(databases, ChdbFactStore(tmp_path / "chdb"))
    try:
        assert sorted(partial.apps) == ["search", "users"]
        assert partial.engine is None
        assert [consumer.queue for consumer in partial.consumers()] == ["search.catalog-index"]
        async with MemoryBroker() as broker, partial.running(broker, services=["users"]):
            async with http_client(partial.apps["users"]) as users:
                body = {"email": "a@b.co", "name": "A", "password": "long enough"}
                created = await users.post("/users", json=body)
                assert created.status_code == 201

            async def published() -> bool:
                return (await outbox_status(databases["users"])).backlog == 0

            deadline = asyncio.get_running_loop().time() + 10
            while not await published():  # the users relay runs in this process
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
    finally:
        await partial.close()
