"""The catalog's HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Response

from shop.catalog.schemas import NewProduct, Product, ProductChange
from shop.catalog.service import CatalogService
from shop.common.guards import STAFF
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, Version
from tidings.storage.database import Database


def create_app(
    database: Database,
    publisher: Publisher | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = CatalogService(database, publisher or OutboxPublisher())
    app = create_service_app(
        service="catalog",
        database=database,
        description="Products and their prices.",
        readiness=readiness,
    )
    app.state.catalog = service

    @app.post(
        "/products",
        status_code=201,
        response_model=Product,
        tags=["products"],
        responses=declared(401, 403, (409, "The SKU is taken")),
        dependencies=[STAFF],
    )
    async def create_product(body: NewProduct) -> Product:
        return await service.create(body)

    @app.get("/products", response_model=Page[Product], tags=["products"])
    async def list_products(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[Product]:
        items, total = await service.page(limit=limit, offset=offset)
        return Page[Product](items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/products/{product_id}",
        response_model=Product,
        tags=["products"],
        responses=declared(404),
    )
    async def get_product(product_id: Identifier) -> Product:
        return await service.get(product_id)

    @app.patch(
        "/products/{product_id}",
        response_model=Product,
        tags=["products"],
        responses=declared(401, 403, 404, 409),
        dependencies=[STAFF],
    )
    async def update_product(product_id: Identifier, body: ProductChange) -> Product:
        return await service.update(product_id, body)

    @app.delete(
        "/products/{product_id}",
        status_code=204,
        tags=["products"],
        responses=declared(401, 403, 404, 409),
        dependencies=[STAFF],
    )
    async def delete_product(
        product_id: Identifier, version: Annotated[Version, Query()]
    ) -> Response:
        await service.delete(product_id, version)
        return Response(status_code=204)

    return app
