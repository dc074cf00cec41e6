"""Inventory, event-sourced on the library's SQLite event store: stock, reservations, releases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from shop.common.auth import Role
from shop.common.publishing import CollectingPublisher
from shop.contracts.base import Line
from shop.contracts.inventory import (
    ReleaseStock,
    ReserveStock,
    StockReleased,
    StockReservationRejected,
    StockReserved,
)
from shop.inventory.api import create_app
from shop.inventory.consumers import commands_consumer
from shop.inventory.domain import StockItem
from shop.inventory.service import InventoryService
from shop.testing import acting_as, http_client, migrate, send
from tidings.eventstore.factory import event_store_for
from tidings.eventstore.schema import snapshots
from tidings.inbox import Outcome
from tidings.outbox import outbox


@pytest.fixture
def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def client(make_database, published) -> AsyncIterator[httpx.AsyncClient]:
    database = await migrate(await make_database("sqlite", service="inventory"), "inventory")
    async with http_client(create_app(database, publisher=published), Role.STAFF) as client:
        yield client


@pytest.fixture
async def outbox_client(make_database) -> AsyncIterator[httpx.AsyncClient]:
    database = await migrate(await make_database("sqlite", service="inventory"), "inventory")
    async with http_client(create_app(database), Role.STAFF) as client:
        yield client


async def stock_in(client: httpx.AsyncClient, product_id: str, units: int) -> dict:
    response = await client.post(
        f"/stock/{product_id}/adjustments", json={"delta": units, "reason": "delivery"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_stock_is_folded_from_its_events(client: httpx.AsyncClient) -> None:
    assert (await client.get("/stock/p-1")).json()["on_hand"] == 0
    await stock_in(client, "p-1", 10)
    stock = await stock_in(client, "p-1", -3)
    assert stock == {"product_id": "p-1", "on_hand": 7, "reserved": 0, "available": 7, "version": 2}


async def test_an_adjustment_at_a_stale_version_is_409(client: httpx.AsyncClient) -> None:
    await stock_in(client, "p-1", 10)
    stale = await client.post(
        "/stock/p-1/adjustments", json={"delta": 1, "reason": "count", "expected_version": 0}
    )
    assert stale.status_code == 409
    zero = await client.post("/stock/p-1/adjustments", json={"delta": 0, "reason": "none"})
    assert zero.status_code == 422
    assert zero.json()["detail"][0]["loc"] == ["body", "delta"]


async def test_reserve_all_or_nothing_then_release(client: httpx.AsyncClient, published) -> None:
    await stock_in(client, "p-1", 5)
    await stock_in(client, "p-2", 1)
    lines = [{"product_id": "p-1", "quantity": 2}, {"product_id": "p-2", "quantity": 1}]
    # Holding and releasing are the saga's: a service credential, not staff.
    saga = acting_as(client._transport.app, Role.SERVICE)  # type: ignore[attr-defined]
    refused = await client.post("/reservations", json={"order_id": "o-1", "lines": lines})
    assert refused.status_code == 403
    placed = await client.post("/reservations", json={"order_id": "o-1", "lines": lines}, auth=saga)
    assert placed.status_code == 201, placed.text
    assert placed.json()["quantities"] == {"p-1": 2, "p-2": 1}
    short = await client.post("/reservations", json={"order_id": "o-2", "lines": lines}, auth=saga)
    assert short.status_code == 409
    # The refused order held nothing, not even the product that had enough.
    assert (await client.get("/stock/p-1")).json()["available"] == 3
    assert (await client.get("/reservations/o-2")).json()["status"] == "rejected"
    assert (await client.delete("/reservations/o-1")).status_code == 403
    assert (await client.delete("/reservations/o-1", auth=saga)).status_code == 204
    assert (await client.get("/stock/p-2")).json()["available"] == 1
    assert (await client.get("/reservations/o-1")).json()["status"] == "released"
    assert (await client.get("/reservations/o-404")).status_code == 404
    assert [e.order_id for e in published.of_type(StockReserved)] == ["o-1"]
    assert [e.order_id for e in published.of_type(StockReservationRejected)] == ["o-2"]
    assert [e.order_id for e in published.of_type(StockReleased)] == ["o-1"]


async def test_commands_through_the_inbox_answer_once(outbox_client: httpx.AsyncClient) -> None:
    service = outbox_client._transport.app.state.inventory  # type: ignore[attr-defined]
    consumer = commands_consumer(service)
    await service.adjust("p-1", 3, "delivery")
    reserve = ReserveStock(order_id="o-1", lines=(Line(product_id="p-1", quantity=2),))
    assert await send(consumer, reserve, message_id="m-1") == Outcome.APPLIED
    assert await send(consumer, reserve, message_id="m-1") == Outcome.DUPLICATE
    # The saga asking again under a new id gets the same answer, no second hold.
    assert await send(consumer, reserve, message_id="m-2") == Outcome.APPLIED
    assert (await service.stock("p-1")).reserved == 2
    too_much = ReserveStock(order_id="o-2", lines=(Line(product_id="p-1", quantity=2),))
    await send(consumer, too_much)
    assert (await service.reservation("o-2")).status == "rejected"
    await send(consumer, ReleaseStock(order_id="o-1"))
    await send(consumer, ReleaseStock(order_id="o-1"))
    assert (await service.stock("p-1")).reserved == 0
    # Released before it was reserved: a late ReserveStock then holds nothing.
    await send(consumer, ReleaseStock(order_id="o-3"))
    await send(consumer, ReserveStock(order_id="o-3", lines=(Line(product_id="p-1", quantity=1),)))
    assert (await service.stock("p-1")).reserved == 0
    replies = await replies_in(service.database)
    assert replies == [
        ("inventory.StockAdjusted", None),
        ("inventory.StockReserved", "m-1"),
        ("inventory.StockReserved", "m-2"),
        ("inventory.StockReservationRejected", None),
        ("inventory.StockReleased", None),
        ("inventory.StockReleased", None),
        ("inventory.StockReleased", None),
        ("inventory.StockReservationRejected", None),
    ]


async def replies_in(database) -> list[tuple[str, str | None]]:
    """(type, id of the command answered) of each outbox row, in order; ids made by
    the test are kept, generated ones shown as None."""
    async with database.connect() as connection:
        rows = (
            await connection.execute(select(outbox.c.type, outbox.c.payload).order_by(outbox.c.seq))
        ).all()
    answered = []
    for row in rows:
        cause = json.loads(row.payload).get("causationid")
        answered.append((row.type, cause if cause in ("m-1", "m-2") else None))
    return answered


async def test_concurrent_reservations_never_oversell(client: httpx.AsyncClient) -> None:
    service = client._transport.app.state.inventory  # type: ignore[attr-defined]
    await service.adjust("p-1", 3, "delivery")
    outcomes = await asyncio.gather(
        *(service.reserve(f"o-{n}", [Line(product_id="p-1", quantity=1)]) for n in range(6))
    )
    assert sorted(outcome.status for outcome in outcomes) == ["placed"] * 3 + ["rejected"] * 3
    stock = await service.stock("p-1")
    assert (stock.reserved, stock.available) == (3, 0)


async def test_snapshots_shorten_loading_and_agree_with_a_full_replay(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="inventory"), "inventory")
    store = event_store_for(database)
    service = InventoryService(database, store, CollectingPublisher(), snapshot_every=3)
    for _ in range(4):
        await service.adjust("p-1", 5, "delivery")
    await service.reserve("o-1", [Line(product_id="p-1", quantity=2)])
    await service.reserve("o-2", [Line(product_id="p-1", quantity=4)])
    await service.release("o-1")  # version 7
    async with database.connect() as connection:
        kept = (
            await connection.execute(
                select(snapshots.c.stream_version).order_by(snapshots.c.stream_version)
            )
        ).scalars()
        assert list(kept) == [3, 6]
    from_snapshot = await service.stock("p-1")
    another = InventoryService(database, store, CollectingPublisher(), snapshot_every=10**6)
    # Without a snapshot in reach, fold every event from the start.
    full = StockItem("p-1")
    for event in await store.read_stream("stock-p-1"):
        full.apply(event)
    assert (from_snapshot.on_hand, from_snapshot.held, from_snapshot.version) == (
        full.on_hand,
        full.held,
        full.version,
    )
    assert (full.on_hand, full.held, full.version) == (20, {"o-2": 4}, 7)
    assert (await another.stock("p-1")).available == 16  # a second instance reads the same
