"""The catalog's operations: each one unit of work that changes rows, audits and publishes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select

from shop.catalog.schemas import NewProduct, Product, ProductChange
from shop.catalog.tables import products
from shop.common.publishing import Publisher
from shop.common.versioned import delete_versioned
from shop.contracts.base import Contract
from shop.contracts.catalog import PriceChanged, ProductCreated, ProductDeleted, ProductUpdated
from tidings import audit
from tidings.errors import NotFound
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

_PRICE_FIELDS = frozenset({"price_cents", "currency"})


class CatalogService:
    def __init__(self, database: Database, publisher: Publisher) -> None:
        self.database = database
        self.publisher = publisher

    async def create(self, new: NewProduct, *, actor: str = "api") -> Product:
        """Add a product; a taken SKU raises :class:`~tidings.errors.IntegrityError`."""
        product_id = str(uuid.uuid4())
        now = utcnow()
        async with unit_of_work(self.database) as uow:
            await uow.execute(
                insert(products).values(
                    id=product_id, **new.model_dump(), created_at=now, updated_at=now, version=1
                )
            )
            await audit.record(
                uow, action="create", entity="product", entity_id=product_id, actor=actor
            )
            product = await _read(uow, product_id)
            await self.publisher.publish(uow, ProductCreated(**_facts(product)))
        return product

    async def get(self, product_id: str) -> Product:
        async with unit_of_work(self.database) as uow:
            return await _read(uow, product_id)

    async def page(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Product], int]:
        async with unit_of_work(self.database) as uow:
            total = (await uow.execute(select(func.count()).select_from(products))).scalar_one()
            rows = await uow.execute(
                select(products).order_by(products.c.sku).limit(limit).offset(offset)
            )
            return [Product.model_validate(dict(row._mapping)) for row in rows], int(total)

    async def update(
        self, product_id: str, change: ProductChange, *, actor: str = "api"
    ) -> Product:
        """Apply ``change`` if the product is still at ``change.version``.

        A new price is published as :class:`PriceChanged`, anything else as
        :class:`ProductUpdated`; a change of both publishes both.
        """
        values: dict[str, Any] = change.model_dump(exclude={"version"}, exclude_unset=True)
        async with unit_of_work(self.database) as uow:
            before = await _read(uow, product_id)
            await update_versioned(uow, products, {"id": product_id}, change.version, values)
            await audit.record(
                uow,
                action="update",
                entity="product",
                entity_id=product_id,
                actor=actor,
                data=values,
            )
            product = await _read(uow, product_id)
            for event in _changes(before, product, set(values)):
                await self.publisher.publish(uow, event)
        return product

    async def delete(self, product_id: str, version: int, *, actor: str = "api") -> None:
        async with unit_of_work(self.database) as uow:
            await delete_versioned(uow, products, {"id": product_id}, version)
            await audit.record(
                uow, action="delete", entity="product", entity_id=product_id, actor=actor
            )
            await self.publisher.publish(
                uow, ProductDeleted(product_id=product_id, version=version + 1)
            )


def _facts(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.id,
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price_cents": product.price_cents,
        "currency": product.currency,
        "version": product.version,
    }


def _changes(before: Product, after: Product, fields: set[str]) -> list[Contract]:
    events: list[Contract] = []
    if (before.price_cents, before.currency) != (after.price_cents, after.currency):
        events.append(
            PriceChanged(
                product_id=after.id,
                price_cents=after.price_cents,
                currency=after.currency,
                version=after.version,
            )
        )
    if fields - _PRICE_FIELDS:
        events.append(ProductUpdated(**_facts(after)))
    return events


async def _read(uow: UnitOfWork, product_id: str) -> Product:
    row = (await uow.execute(select(products).where(products.c.id == product_id))).one_or_none()
    if row is None:
        raise NotFound(f"product {product_id} does not exist")
    return Product.model_validate(dict(row._mapping))
