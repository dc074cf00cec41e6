"""The running shop (relays, consumers, saga worker) on RabbitMQ and on NATS JetStream,
each service on its own SQLite file; orders placed through HTTP reach their final status."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from shop import consistency
from shop.analytics.facts import ChdbFactStore
from shop.common.auth import Role
from shop.runtime import Shop
from shop.system import system
from shop.testing import http_client, migrate
from tidings.brokers.factory import broker_from_url
from tidings.storage.database import Database

BROKERS = [
    pytest.param("amqp://guest:guest@127.0.0.1:5672/", id="rabbitmq", marks=pytest.mark.rabbitmq),
    pytest.param("nats://127.0.0.1:4222", id="nats", marks=pytest.mark.nats),
]


async def eventually(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition.__name__}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("url", BROKERS)
async def test_orders_flow_through_a_real_broker(url: str, tmp_path: Path) -> None:
    databases = {
        s.name: Database(s.name, f"sqlite+aiosqlite:///{tmp_path}/{s.name}.db")
        for s in system.services
    }
    for name, database in databases.items():
        await migrate(database, name)
    namespace = f"tidings_shop_{uuid.uuid4().hex[:8]}"  # queues/streams of this test only
    broker = broker_from_url(url, namespace=namespace)
    async with broker:
        shop = Shop(databases, ChdbFactStore(tmp_path / "chdb"), broker=broker)
        try:
            async with (
                shop.running(broker, poll_interval=0.05),
                http_client(shop.apps["users"]) as users,
                http_client(shop.apps["catalog"], Role.STAFF) as catalog,
                http_client(shop.apps["inventory"], Role.STAFF) as inventory,
                http_client(shop.apps["orders"], Role.STAFF) as orders,
            ):
                user = (
                    await users.post(
                        "/users", json={"email": "a@b.co", "name": "A", "password": "long enough"}
                    )
                ).json()
                body = {"sku": "MUG", "name": "Mug", "price_cents": 700}
                mug = (await catalog.post("/products", json=body)).json()
                adjust = {"delta": 1, "reason": "in"}
                await inventory.post(f"/stock/{mug['id']}/adjustments", json=adjust)

                async def replicated() -> bool:
                    found = await orders.get(f"/replicas/prices/{mug['id']}")
                    return (
                        await orders.get(f"/replicas/customers/{user['id']}")
                    ).is_success and found.is_success

                await eventually(replicated)
                line = [{"product_id": mug["id"], "quantity": 1}]
                placed = [
                    (
                        await orders.post("/orders", json={"user_id": user["id"], "lines": line})
                    ).json()
                    for _ in range(2)
                ]

                async def final() -> bool:
                    pending = await orders.get("/orders", params={"status": "pending"})
                    return pending.json()["total"] == 0

                await eventually(final)
                statuses = sorted(
                    [
                        (await orders.get(f"/orders/{order['id']}")).json()["status"]
                        for order in placed
                    ]
                )
                assert statuses == ["confirmed", "rejected"]
                ready = (await orders.get("/health/ready")).json()["checks"]
                assert ready["broker"] == "ok"

                async def agrees() -> bool:
                    return not await consistency.check(shop.services())

                await eventually(agrees)
        finally:
            await shop.close()
            # The shop's queues are durable; a test leaves none behind on the shared server.
            await broker.delete_namespace()  # type: ignore[attr-defined]
