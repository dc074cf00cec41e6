"""The cart demo: an event-sourced cart rebuilt from its events, with snapshots,
upcasting, a concurrent change that is retried, time travel and an audit history.

It runs on whatever ``CART_DATABASE_URL`` names (a SQLite file by default) and can
be run again and again: each run makes a new cart.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from examples.cart.domain import Cart, CartError
from examples.cart.service import CartService
from tidings.errors import ConcurrencyError
from tidings.eventstore.base import NewEvent
from tidings.eventstore.factory import event_store_for
from tidings.eventstore.timetravel import history, load_as_of
from tidings.migrations import runner
from tidings.settings import Settings

if TYPE_CHECKING:
    from tidings.system import System


def _lines(cart: Cart) -> str:
    parts = [f"{sku} x{line['quantity']}" for sku, line in sorted(cart.lines.items())]
    return ", ".join(parts) or "(empty)"


async def run_demo(system: System, settings: Settings) -> None:
    console = Console(highlight=False)
    service_def = system.service("cart")
    database = system.database("cart", settings)
    try:
        await runner.upgrade(database, service_def)
        revision = await runner.current(database, service_def)
        console.print(f"cart database {database.safe_url} at revision {revision}")
        store = event_store_for(database)
        service = CartService(store)
        carts = service.carts
        cart_id = uuid.uuid4().hex[:8]
        stream = carts.stream_id(cart_id)
        steps: list[tuple[str, str]] = []

        await service.create(cart_id, "ada")
        await service.change(cart_id, lambda c: c.add_item("book", 1, 2500), actor="ada")
        await service.change(cart_id, lambda c: c.add_item("pen", 3, 150), actor="ada")
        result, _ = await service.change(
            cart_id, lambda c: c.change_quantity("pen", 5), actor="ada"
        )
        assert result is not None
        before_removal = result.last_position
        await service.change(cart_id, lambda c: c.remove_item("book"), actor="ada")
        cart = await carts.load(cart_id)
        steps.append(("create, add book and pens, change pens to 5, remove book", _lines(cart)))

        # An event stored years ago in version 1 of ItemAdded: price in euros, no quantity.
        await store.append(
            stream,
            [NewEvent("ItemAdded", {"sku": "mug", "price": 7.5}, schema_version=1)],
            expected_version=cart.version,
        )
        cart = await carts.load(cart_id)
        mug = cart.lines["mug"]
        steps.append(
            (
                "read an ItemAdded v1 event (upcast v1 -> v2 -> v3)",
                f"mug x{mug['quantity']} at {mug['price_cents']} cents",
            )
        )

        # Two browser tabs load the same cart; the second save is refused, not lost.
        tab_a, tab_b = await carts.load(cart_id), await carts.load(cart_id)
        tab_a.add_item("stickers", 10, 20)
        tab_b.add_item("lamp", 1, 4000)
        await carts.save(tab_a, metadata={"actor": "ada (tab A)"})
        try:
            await carts.save(tab_b, metadata={"actor": "ada (tab B)"})
            steps.append(("tab B saves on a stale version", "accepted (unexpected!)"))
        except ConcurrencyError as error:
            steps.append(("tab B saves on a stale version", f"ConcurrencyError: {error}"))
        outcomes = await asyncio.gather(
            service.change(cart_id, lambda c: c.add_item("lamp", 1, 4000), actor="tab B"),
            service.change(cart_id, lambda c: c.add_item("notebook", 2, 300), actor="tab C"),
        )
        conflicts = sum(retried for _, retried in outcomes)
        cart = await carts.load(cart_id)
        steps.append(
            (
                "tabs B and C add at once, retrying on conflict",
                f"{conflicts} conflict(s) retried; now {_lines(cart)}",
            )
        )

        snapshot = await carts.snapshots.latest(stream) if carts.snapshots else None
        if snapshot is not None:
            after = cart.version - snapshot.stream_version
            steps.append(
                (
                    f"load from the snapshot (every {carts.snapshot_every} events)",
                    f"snapshot at version {snapshot.stream_version} + {after} event(s) "
                    f"= version {cart.version}",
                )
            )

        earlier = await load_as_of(carts, cart_id, position=before_removal)
        steps.append((f"time travel: the cart as of position {before_removal}", _lines(earlier)))

        await service.change(cart_id, lambda c: c.abandon("customer left"), actor="system")
        try:
            await service.change(cart_id, lambda c: c.add_item("pen", 1, 150), actor="ada")
            steps.append(("add to an abandoned cart", "accepted (unexpected!)"))
        except CartError as error:
            steps.append(("add to an abandoned cart", f"refused: {error}"))

        table = Table(title=f"Cart {cart_id}: what the demo did")
        table.add_column("step")
        table.add_column("outcome")
        for step, outcome in steps:
            table.add_row(step, outcome)
        console.print(table)

        audit = Table(title=f"History of stream {stream} (for audit)")
        for column in ("version", "position", "recorded at", "event", "actor", "data"):
            audit.add_column(column)
        for entry in await history(store, stream):
            audit.add_row(
                str(entry.version),
                str(entry.position),
                entry.recorded_at.strftime("%H:%M:%S.%f")[:-3],
                f"{entry.type} v{entry.schema_version}",
                str(entry.actor or "-"),
                " ".join(f"{key}={value}" for key, value in entry.data.items()),
            )
        console.print(audit)
        head = await store.head_position()
        console.print(f"global head position {head}; the cart total is {cart.total_cents} cents")
    finally:
        await database.close()
