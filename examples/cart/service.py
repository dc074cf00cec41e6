"""The cart service: load, change, save, and retry when someone else changed the cart first."""

from __future__ import annotations

from collections.abc import Callable

from examples.cart.domain import Cart, upcasters
from tidings.errors import ConcurrencyError
from tidings.eventstore.aggregate import Repository
from tidings.eventstore.base import AppendResult, EventStore


class CartService:
    def __init__(self, store: EventStore) -> None:
        self.carts = Repository(store, Cart, upcasters=upcasters)

    async def create(self, cart_id: str, customer: str) -> AppendResult | None:
        return await self.carts.save(Cart.create(cart_id, customer), metadata={"actor": customer})

    async def change(
        self, cart_id: str, command: Callable[[Cart], None], *, actor: str, retries: int = 5
    ) -> tuple[AppendResult | None, int]:
        """Run ``command`` on the latest cart; on a concurrent change, reload and run it again.

        Returns the append and how many conflicts it met. The command re-checks the
        rules against the newer state each time, so no one's change is lost.
        """
        for attempt in range(retries + 1):
            cart = await self.carts.load(cart_id)
            command(cart)
            try:
                return await self.carts.save(cart, metadata={"actor": actor}), attempt
            except ConcurrencyError:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
