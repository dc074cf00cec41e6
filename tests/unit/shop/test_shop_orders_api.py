"""Orders on SQLite: replicas kept by users' and catalog's events, orders priced from them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from shop.common.auth import Role
from shop.common.publishing import CollectingPublisher
from shop.contracts.base import Line
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted
from shop.contracts.orders import ConfirmOrder, OrderCancelled, OrderConfirmed, OrderPlaced
from shop.contracts.users import UserRegistered, UserUpdated
from shop.orders import replicas
from shop.orders.api import create_app
from shop.orders.commands import commands_consumer
from shop.orders.history import history_consumer, history_of
from shop.testing import http_client, migrate, send
from tidings.inbox import Outcome
from tidings.outbox import outbox
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


@pytest.fixture
def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def database(make_database) -> Database:
    database = await migrate(await make_database("sqlite", service="orders"), "orders")
    async with unit_of_work(database) as uow:
        await replicas.on_user(
            uow, UserRegistered(user_id="u-1", email="ada@example.com", name="Ada", version=1)
        )
        for product_id, price in (("p-1", 1200), ("p-2", 300)):
            await replicas.on_product(
                uow,
                ProductCreated(
                    product_id=product_id,
                    sku=product_id,
                    name=f"product {product_id}",
                    description="",
                    price_cents=price,
                    currency="EUR",
                    version=1,
                ),
            )
    return database


@pytest.fixture
async def client(database, published) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(create_app(database, published), Role.STAFF) as client:
        yield client


ORDER = {
    "user_id": "u-1",
    "lines": [{"product_id": "p-1", "quantity": 2}, {"product_id": "p-2", "quantity": 1}],
}


async def test_an_order_is_priced_from_the_replica(client: httpx.AsyncClient, published) -> None:
    placed = await client.post("/orders", json=ORDER)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["status"], order["total_cents"], order["currency"]) == ("pending", 2700, "EUR")
    assert [line["unit_price_cents"] for line in order["lines"]] == [1200, 300]
    [event] = published.of_type(OrderPlaced)
    assert (event.order_id, event.total_cents) == (order["id"], 2700)
    listed = (await client.get("/orders", params={"user_id": "u-1", "status": "pending"})).json()
    assert [item["id"] for item in listed["items"]] == [order["id"]]


async def test_unknown_product_or_customer_is_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    unknown_product = await client.post(
        "/orders", json={"user_id": "u-1", "lines": [{"product_id": "p-404", "quantity": 1}]}
    )
    assert unknown_product.status_code == 422
    assert unknown_product.json()["detail"][0]["loc"] == ["body", "lines"]
    unknown_user = await client.post("/orders", json={**ORDER, "user_id": "u-404"})
    assert unknown_user.json()["detail"][0]["loc"] == ["body", "user_id"]
    no_lines = await client.post("/orders", json={"user_id": "u-1", "lines": []})
    assert ["body", "lines"] in [error["loc"] for error in no_lines.json()["detail"]]


async def test_cancel_needs_the_current_version_and_a_pending_order(
    client: httpx.AsyncClient, published
) -> None:
    order = (await client.post("/orders", json=ORDER)).json()
    stale = await client.post(f"/orders/{order['id']}/cancel", json={"version": 3})
    assert stale.status_code == 409
    cancelled = await client.post(f"/orders/{order['id']}/cancel", json={"version": 1})
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/orders/{order['id']}/cancel", json={"version": 2})
    assert again.status_code == 409
    assert len(published.of_type(OrderCancelled)) == 1
    assert (await client.post("/orders/none/cancel", json={"version": 1})).status_code == 404


async def test_confirm_order_command_answers_once(database) -> None:
    async with http_client(create_app(database), Role.STAFF) as client:
        confirmed = (await client.post("/orders", json=ORDER)).json()
        cancelled = (await client.post("/orders", json=ORDER)).json()
        await client.post(f"/orders/{cancelled['id']}/cancel", json={"version": 1})
    consumer = commands_consumer(database)
    await send(consumer, ConfirmOrder(order_id=confirmed["id"]), message_id="c-1")
    await send(consumer, ConfirmOrder(order_id=confirmed["id"]), message_id="c-2")
    await send(consumer, ConfirmOrder(order_id=cancelled["id"]), message_id="c-3")
    async with database.connect() as connection:
        rows = (
            await connection.execute(
                select(outbox.c.type, outbox.c.aggregateid).order_by(outbox.c.seq)
            )
        ).all()
    answers = [(row.type, row.aggregateid) for row in rows if row.type != "orders.OrderPlaced"]
    assert answers == [
        ("orders.OrderCancelled", cancelled["id"]),
        ("orders.OrderConfirmed", confirmed["id"]),
        ("orders.OrderConfirmed", confirmed["id"]),  # asked again: answered again
        ("orders.OrderConfirmationRefused", cancelled["id"]),
    ]
    async with http_client(create_app(database), Role.STAFF) as client:
        order = (await client.get(f"/orders/{confirmed['id']}")).json()
    assert (order["status"], order["version"]) == ("confirmed", 2)


async def test_replicas_keep_the_newest_version(client: httpx.AsyncClient, database) -> None:
    async with unit_of_work(database) as uow:
        changed = await replicas.on_user(
            uow, UserUpdated(user_id="u-1", email="ada@new.example", name="Ada", version=3)
        )
        late = await replicas.on_user(
            uow, UserUpdated(user_id="u-1", email="ada@old.example", name="Ada", version=2)
        )
        repriced = await replicas.on_product(
            uow, PriceChanged(product_id="p-1", price_cents=999, currency="EUR", version=2)
        )
        await replicas.on_product(uow, ProductDeleted(product_id="p-2", version=2))
    assert (changed, late, repriced) == (True, False, True)
    customer = (await client.get("/replicas/customers/u-1")).json()
    assert (customer["email"], customer["source_version"]) == ("ada@new.example", 3)
    price = (await client.get("/replicas/prices/p-1")).json()
    assert (price["price_cents"], price["name"]) == (999, "product p-1")
    assert (await client.get("/replicas/prices/p-2")).status_code == 404


async def test_order_history_tolerates_the_outcome_arriving_first(database) -> None:
    consumer = history_consumer(database)
    line = Line(product_id="p-1", quantity=3, unit_price_cents=100)
    confirmed = OrderConfirmed(
        order_id="o-1", user_id="u-1", lines=(line,), total_cents=300, currency="EUR"
    )
    placed = OrderPlaced(
        order_id="o-1", user_id="u-1", lines=(line,), total_cents=300, currency="EUR"
    )
    assert await send(consumer, confirmed, message_id="e-1") == Outcome.APPLIED
    assert await send(consumer, placed, message_id="e-2") == Outcome.APPLIED
    assert await send(consumer, placed, message_id="e-2") == Outcome.DUPLICATE
    [entry] = await history_of(database, "u-1")
    assert (entry.status, entry.total_cents, entry.items) == ("confirmed", 300, 3)
    async with http_client(create_app(database), Role.STAFF) as client:
        shown = (await client.get("/customers/u-1/orders")).json()
    assert [item["status"] for item in shown] == ["confirmed"]
