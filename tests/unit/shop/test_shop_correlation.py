"""One order, one flow: every message the shop sends about an order, from OrderPlaced
through the saga's commands and replies to the notification sent, carries the same
correlation id, and each names the message it reacted to as its cause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from shop.analytics.facts import ChdbFactStore
from shop.common.auth import Role
from shop.runtime import Shop
from shop.system import system
from shop.testing import Pump, http_client, migrate
from tidings.messages import Envelope, decode
from tidings.outbox import outbox
from tidings.storage.database import Database


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


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def every_message(databases: dict[str, Database]) -> list[Envelope]:
    """Every message any service wrote to its outbox."""
    found: list[Envelope] = []
    for database in databases.values():
        async with database.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            if "outbox" not in tables:
                continue
            rows = await connection.execute(select(outbox.c.payload).order_by(outbox.c.seq))
            found += [decode(row.payload) for row in rows]
    return found


def about(envelope: Envelope, order_id: str) -> bool:
    """Whether ``envelope`` concerns the order (by its aggregate, its data or its key)."""
    data = envelope.data
    return (
        envelope.aggregateid == order_id
        or data.get("order_id") == order_id
        or order_id in str(data.get("idempotency_key", ""))
    )


def chain(flow: list[Envelope], last: Envelope) -> list[str]:
    """The types from the flow's root down to ``last``, following causation ids."""
    by_id = {envelope.id: envelope for envelope in flow}
    types = [last.type]
    current = last
    while current.causationid is not None:
        assert current.causationid in by_id, (
            f"{current.type} {current.id} names a cause outside its flow: {current.causationid}"
        )
        current = by_id[current.causationid]
        types.append(current.type)
        assert len(types) <= len(flow), "causation ids loop"
    return types[::-1]


async def test_each_order_is_one_flow_with_an_unbroken_causation_chain(shop: Shop) -> None:
    pump = Pump(shop.databases, shop.consumers())
    async with (
        http_client(shop.apps["users"]) as users,
        http_client(shop.apps["catalog"], Role.STAFF) as catalog,
        http_client(shop.apps["inventory"], Role.STAFF) as inventory,
        http_client(shop.apps["orders"], Role.STAFF) as orders,
    ):
        registration = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
        ada = await ok(await users.post("/users", json=registration), 201)
        mug = await ok(
            await catalog.post("/products", json={"sku": "MUG", "name": "Mug", "price_cents": 900}),
            201,
        )
        await ok(
            await inventory.post(
                f"/stock/{mug['id']}/adjustments", json={"delta": 3, "reason": "in"}
            )
        )
        await pump.run()

        def order(quantity: int, method: str = "card") -> dict[str, Any]:
            return {
                "user_id": ada["id"],
                "lines": [{"product_id": mug["id"], "quantity": quantity}],
                "payment_method": method,
            }

        confirmed = await ok(await orders.post("/orders", json=order(2)), 201)
        rejected = await ok(await orders.post("/orders", json=order(50)), 201)
        cancelled = await ok(await orders.post("/orders", json=order(1, "declined")), 201)
        await pump.run()

    messages = await every_message(shop.databases)
    expected_chains = {
        confirmed["id"]: [
            "orders.OrderPlaced",
            "inventory.ReserveStock",
            "inventory.StockReserved",
            "payments.TakePayment",
            "payments.PaymentTaken",
            "orders.ConfirmOrder",
            "orders.OrderConfirmed",
            "notifications.SendNotification",
            "notifications.NotificationSent",
        ],
        rejected["id"]: [
            "orders.OrderPlaced",
            "inventory.ReserveStock",
            "inventory.StockReservationRejected",
            "notifications.SendNotification",
            "notifications.NotificationSent",
        ],
        cancelled["id"]: [
            "orders.OrderPlaced",
            "inventory.ReserveStock",
            "inventory.StockReserved",
            "payments.TakePayment",
            "payments.PaymentDeclined",
            "inventory.ReleaseStock",
            "inventory.StockReleased",
            "notifications.SendNotification",
            "notifications.NotificationSent",
        ],
    }
    for order_id, expected in expected_chains.items():
        placed = [m for m in messages if m.type == "orders.OrderPlaced" and about(m, order_id)]
        assert len(placed) == 1
        root = placed[0]
        assert root.causationid is None
        flow = [m for m in messages if m.correlationid == root.correlationid]
        # Everything about the order is in its flow, and nothing else is.
        assert {m.id for m in messages if about(m, order_id)} <= {m.id for m in flow}
        assert all(about(m, order_id) or m.type.startswith("notifications.") for m in flow)
        # Every message but the root names a cause inside the flow.
        assert all(m.causationid in {f.id for f in flow} for m in flow if m is not root)
        sent = [m for m in flow if m.type == "notifications.NotificationSent"]
        assert len(sent) == 1, [m.type for m in flow]
        assert chain(flow, sent[0]) == expected
