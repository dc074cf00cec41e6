"""Analytics' HTTP API: read-only sales reports."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from shop.analytics.facts import FactStore, ProductSales, SalesTotals
from shop.analytics.service import AnalyticsService
from shop.common.guards import REPORTS
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.responses import declared
from tidings.storage.database import Database


def create_app(
    database: Database,
    facts: FactStore,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = AnalyticsService(facts)

    async def facts_answer() -> None:
        await facts.totals()

    app = create_service_app(
        service="analytics",
        database=database,
        description="Sales facts projected from orders' events, in ClickHouse.",
        readiness=[ReadinessCheck("clickhouse", facts_answer), *readiness],
    )
    app.state.analytics = service

    @app.get(
        "/sales/totals",
        response_model=SalesTotals,
        tags=["sales"],
        responses=declared(401, 403),
        dependencies=[REPORTS],
    )
    async def totals() -> SalesTotals:
        return await service.totals()

    @app.get(
        "/sales/by-product",
        response_model=list[ProductSales],
        tags=["sales"],
        responses=declared(401, 403),
        dependencies=[REPORTS],
    )
    async def by_product() -> list[ProductSales]:
        return await service.by_product()

    return app
