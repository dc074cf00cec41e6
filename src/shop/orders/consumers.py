"""Orders' consumer of users' and catalog's events: the replicas it prices and
addresses orders from, each change committed with its inbox row."""

from __future__ import annotations

from shop.contracts.base import registry
from shop.orders import replicas
from tidings.inbox import Consumer
from tidings.messages import Envelope, Message
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork


def replica_consumer(database: Database) -> Consumer:
    consumer = Consumer("replicas", database, registry)

    async def on_user(uow: UnitOfWork, event: Message, _envelope: Envelope) -> None:
        if isinstance(event, replicas.USER_EVENTS):
            await replicas.on_user(uow, event)

    async def on_product(uow: UnitOfWork, event: Message, _envelope: Envelope) -> None:
        if isinstance(event, replicas.CATALOG_EVENTS):
            await replicas.on_product(uow, event)

    for user_event in replicas.USER_EVENTS:
        consumer.on(user_event, on_user)
    for catalog_event in replicas.CATALOG_EVENTS:
        consumer.on(catalog_event, on_product)
    return consumer
