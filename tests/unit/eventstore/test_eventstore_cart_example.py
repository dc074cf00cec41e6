"""The cart example: its rules without I/O, its retrying service, and its demo on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from examples.cart.domain import Cart, CartError, ItemAdded
from examples.cart.service import CartService
from tidings.eventstore.base import RecordedEvent
from tidings.eventstore.memory import MemoryEventStore
from tidings.settings import Settings
from tidings.system import get_system


def test_the_cart_records_what_happened() -> None:
    cart = Cart.create("c1", "ada")
    cart.add_item("pen", 2, 150)
    cart.add_item("pen", 1, 150)  # the same item again changes its quantity
    cart.change_quantity("pen", 0)  # zero removes it
    assert [type(e).__name__ for e in cart.pending] == [
        "CartCreated",
        "ItemAdded",
        "ItemQuantityChanged",
        "ItemRemoved",
    ]
    assert cart.lines == {}
    with pytest.raises(CartError):
        cart.remove_item("pen")
    cart.abandon("gone")
    with pytest.raises(CartError, match="abandoned"):
        cart.add_item("pen", 1, 150)


def test_old_item_added_events_upcast_to_version_three() -> None:
    from examples.cart.domain import upcasters

    version, data = upcasters.upcast("ItemAdded", 1, {"sku": "mug", "price": 7.5})
    assert version == ItemAdded.schema_version == 3
    assert data == {"quantity": 1, "sku": "mug", "price_cents": 750}


class InterleavingStore(MemoryEventStore):
    """Yields to other tasks on every read, as a store over a network would."""

    async def read_stream(self, stream_id: str, **bounds: Any) -> list[RecordedEvent]:
        events = await super().read_stream(stream_id, **bounds)
        await asyncio.sleep(0)
        return events


async def test_concurrent_changes_are_retried_not_lost() -> None:
    service = CartService(InterleavingStore())
    await service.create("c1", "ada")
    skus = [f"sku-{n}" for n in range(6)]
    outcomes = await asyncio.gather(
        *(
            service.change("c1", lambda cart, sku=sku: cart.add_item(sku, 1, 100), actor="t")
            for sku in skus
        )
    )
    cart = await service.carts.load("c1")
    assert sorted(cart.lines) == skus
    assert cart.version == 7
    assert sum(retried for _, retried in outcomes) >= 1


async def test_the_demo_runs_on_the_embedded_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CART_DATABASE_URL", raising=False)
    system = get_system("cart")
    assert system.demo is not None
    await system.demo(system, Settings(data_dir=tmp_path))
    await system.demo(system, Settings(data_dir=tmp_path))  # runs again on the same file
    printed = capsys.readouterr().out
    assert "ConcurrencyError" in printed
    assert "mug x1 at 750 cents" in printed
    assert "refused: the cart was abandoned" in printed
    assert "snapshot at version" in printed
    assert (tmp_path / "cart" / "cart.db").exists()
