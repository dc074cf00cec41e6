"""Orders' replicas of users and catalog data, kept by their events.

Each handler takes the consumer's unit of work, so the replica row and the
inbox record of the message commit together.
"""

from __future__ import annotations

from sqlalchemy import select

from shop.common.replicas import delete_if_not_newer, upsert_if_newer
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from shop.contracts.users import UserDeleted, UserRegistered, UserUpdated
from shop.orders.tables import customer_replica, price_replica
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

USER_EVENTS = (UserRegistered, UserUpdated, UserDeleted)
CATALOG_EVENTS = (ProductCreated, ProductUpdated, PriceChanged, ProductDeleted)


async def on_user(uow: UnitOfWork, event: UserRegistered | UserUpdated | UserDeleted) -> bool:
    """Apply a users event to the customer replica; returns whether it changed."""
    key = {"user_id": event.user_id}
    if isinstance(event, UserDeleted):
        return await delete_if_not_newer(uow, customer_replica, key, event.version)
    values = {"email": event.email, "name": event.name, "replicated_at": utcnow()}
    return await upsert_if_newer(uow, customer_replica, key, event.version, values)


async def on_product(
    uow: UnitOfWork, event: ProductCreated | ProductUpdated | PriceChanged | ProductDeleted
) -> bool:
    """Apply a catalog event to the price replica; returns whether it changed."""
    key = {"product_id": event.product_id}
    if isinstance(event, ProductDeleted):
        return await delete_if_not_newer(uow, price_replica, key, event.version)
    if isinstance(event, PriceChanged):
        # A price change carries no name; keep the one held (a newer version wins anyway).
        held = (
            await uow.execute(
                select(price_replica.c.name).where(price_replica.c.product_id == event.product_id)
            )
        ).scalar_one_or_none()
        values = {
            "name": held or "",
            "price_cents": event.price_cents,
            "currency": event.currency,
            "replicated_at": utcnow(),
        }
    else:
        values = {
            "name": event.name,
            "price_cents": event.price_cents,
            "currency": event.currency,
            "replicated_at": utcnow(),
        }
    return await upsert_if_newer(uow, price_replica, key, event.version, values)
