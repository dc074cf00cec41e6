"""Analytics' operations: turn confirmed orders into sales facts, and report on them."""

from __future__ import annotations

from shop.analytics.facts import FactStore, ProductSales, SalesFact, SalesTotals
from shop.contracts.orders import OrderConfirmed
from tidings.storage.types import utcnow


class AnalyticsService:
    def __init__(self, facts: FactStore) -> None:
        self.facts = facts

    async def on_order_confirmed(self, event: OrderConfirmed) -> int:
        """Record one fact per line; returns how many. Replays replace, never add."""
        confirmed_at = utcnow()
        facts = [
            SalesFact(
                order_id=event.order_id,
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                amount_cents=line.quantity * line.unit_price_cents,
                currency=event.currency,
                confirmed_at=confirmed_at,
            )
            for line in event.lines
        ]
        await self.facts.record(facts)
        return len(facts)

    async def totals(self) -> SalesTotals:
        return await self.facts.totals()

    async def by_product(self) -> list[ProductSales]:
        return await self.facts.by_product()
