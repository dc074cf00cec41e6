"""The search index as a projection of the catalog's events.

Each handler takes the consumer's unit of work, so the document and the record
that the event was applied (inbox or checkpoint) commit together.
"""

from __future__ import annotations

from sqlalchemy import select

from shop.common.replicas import delete_if_not_newer, upsert_if_newer
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from shop.search.tables import documents
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

CatalogEvent = ProductCreated | ProductUpdated | PriceChanged | ProductDeleted


async def apply(uow: UnitOfWork, event: CatalogEvent) -> bool:
    """Apply one catalog event to the index; returns whether a document changed."""
    key = {"product_id": event.product_id}
    if isinstance(event, ProductDeleted):
        return await delete_if_not_newer(uow, documents, key, event.version)
    if isinstance(event, PriceChanged):
        held = (
            await uow.execute(select(documents).where(documents.c.product_id == event.product_id))
        ).one_or_none()
        if held is None:
            # The product's text has not arrived yet; ProductCreated carries the price too.
            return False
        values = {
            "sku": held.sku,
            "name": held.name,
            "description": held.description,
            "price_cents": event.price_cents,
            "currency": event.currency,
            "indexed_at": utcnow(),
        }
    else:
        values = {
            "sku": event.sku,
            "name": event.name,
            "description": event.description,
            "price_cents": event.price_cents,
            "currency": event.currency,
            "indexed_at": utcnow(),
        }
    return await upsert_if_newer(uow, documents, key, event.version, values)
