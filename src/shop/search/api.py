"""Search's HTTP API: read-only; the index is the catalog's to change, through events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query

from shop.common.http import ReadinessCheck, create_service_app
from shop.common.responses import declared
from shop.common.validation import Identifier, Text
from shop.search.schemas import Document, Results
from shop.search.service import SearchService
from tidings.storage.database import Database


def create_app(
    database: Database,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = SearchService(database)
    app = create_service_app(
        service="search",
        database=database,
        description="Full-text product search, projected from the catalog's events.",
        readiness=readiness,
    )
    app.state.search = service

    @app.get("/search", response_model=Results, tags=["search"])
    async def search(
        q: Annotated[str, Query(), Text(200, min_length=1)],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> Results:
        return await service.search(q, limit=limit)

    @app.get(
        "/documents/{product_id}", response_model=Document, tags=["search"], responses=declared(404)
    )
    async def get_document(product_id: Identifier) -> Document:
        return await service.get(product_id)

    return app
