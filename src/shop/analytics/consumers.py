"""Analytics' consumer of OrderConfirmed.

The facts go to ClickHouse, which cannot share the inbox's transaction; they are
written first and the inbox row commits after. A crash in between redelivers the
event, and rewriting the same (order, product) facts replaces them (the table is
a ReplacingMergeTree read with FINAL), so each order still counts once.
"""

from __future__ import annotations

from shop.analytics.service import AnalyticsService
from shop.contracts.base import registry
from shop.contracts.orders import OrderConfirmed
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


def sales_consumer(database: Database, service: AnalyticsService) -> Consumer:
    consumer = Consumer("sales", database, registry)

    @consumer.handles(OrderConfirmed)
    async def confirmed(uow: UnitOfWork, event: OrderConfirmed, _envelope: Envelope) -> None:
        await service.on_order_confirmed(event)

    return consumer
