"""Repositories with snapshots, and the event store's migrations, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from examples.cart.service import CartService
from examples.cart.system import system as cart_system
from tidings.errors import AppendOnlyViolation, ConcurrencyError
from tidings.eventstore.factory import event_store_for
from tidings.eventstore.snapshots import SQLSnapshotStore
from tidings.eventstore.timetravel import load_as_of
from tidings.migrations import runner
from tidings.storage.database import Database


async def _tables(database: Database) -> set[str]:
    async with database.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_the_cart_migrates_up_and_down(database: Database) -> None:
    service = cart_system.service("cart")
    await runner.upgrade(database, service)
    assert {"events", "snapshots"} <= await _tables(database)
    store = event_store_for(database)
    await store.append("s", [], expected_version=0)
    cart_service = CartService(store)
    await cart_service.create("c1", "ada")
    with pytest.raises(AppendOnlyViolation):
        async with database.transaction() as connection:
            await connection.execute(text("DELETE FROM events"))
    await runner.downgrade(database, service, "base")
    assert not {"events", "snapshots", "event_writers"} & await _tables(database)


async def test_snapshots_and_time_travel_in_the_database(database: Database) -> None:
    await runner.upgrade(database, cart_system.service("cart"))
    service = CartService(event_store_for(database))
    carts = service.carts
    assert isinstance(carts.snapshots, SQLSnapshotStore)
    await service.create("c1", "ada")
    positions = []
    for n in range(7):
        result, _ = await service.change(
            "c1", lambda cart, n=n: cart.add_item(f"sku-{n}", 1, 100), actor="ada"
        )
        assert result is not None
        positions.append(result.last_position)
    snapshot = await carts.snapshots.latest(carts.stream_id("c1"))
    assert snapshot is not None
    assert snapshot.stream_version == 5
    cart = await carts.load("c1")
    assert (cart.version, len(cart.lines)) == (8, 7)
    then = await load_as_of(carts, "c1", position=positions[1])
    assert (then.version, sorted(then.lines)) == (3, ["sku-0", "sku-1"])
    stale = await carts.load("c1", to_position=positions[0])
    stale.add_item("late", 1, 1)
    with pytest.raises(ConcurrencyError) as raised:
        await carts.save(stale)
    assert (raised.value.expected, raised.value.actual) == (2, 8)
