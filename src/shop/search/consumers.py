"""Search's consumer of the catalog's events: each applied in the unit of work that
records it in the inbox, so the index never applies an event twice."""

from __future__ import annotations

from shop.contracts.base import registry
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from shop.search import projection
from tidings.inbox import Consumer
from tidings.messages import Envelope, Message
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork

CATALOG_EVENTS = (ProductCreated, ProductUpdated, PriceChanged, ProductDeleted)


def catalog_consumer(database: Database) -> Consumer:
    consumer = Consumer("catalog-index", database, registry)

    async def apply(uow: UnitOfWork, event: Message, _envelope: Envelope) -> None:
        if isinstance(event, CATALOG_EVENTS):
            await projection.apply(uow, event)

    for kind in CATALOG_EVENTS:
        consumer.on(kind, apply)
    return consumer
