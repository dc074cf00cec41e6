"""Inventory's HTTP API: stock levels and adjustments, reservations by order."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Response

from shop.common.errors import Conflict, Unprocessable
from shop.common.guards import BACK_OFFICE, SERVICE, STAFF
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier
from shop.contracts.base import Line
from shop.inventory.schemas import Adjustment, NewReservation, ReservationView, Stock
from shop.inventory.service import InventoryService
from tidings.eventstore.base import EventStore
from tidings.eventstore.factory import event_store_for
from tidings.storage.database import Database


def create_app(
    database: Database,
    store: EventStore | None = None,
    publisher: Publisher | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    store = store or event_store_for(database)
    service = InventoryService(database, store, publisher or OutboxPublisher())
    app = create_service_app(
        service="inventory",
        database=database,
        description="Stock per product and reservations per order, event-sourced.",
        readiness=readiness,
    )
    app.state.inventory = service

    @app.get("/stock/{product_id}", response_model=Stock, tags=["stock"])
    async def get_stock(product_id: Identifier) -> Stock:
        return Stock.of(await service.stock(product_id))

    @app.post(
        "/stock/{product_id}/adjustments",
        response_model=Stock,
        tags=["stock"],
        responses=declared(
            401, 403, (409, "A stale expected_version, or more taken out than is free")
        ),
        dependencies=[STAFF],
    )
    async def adjust_stock(product_id: Identifier, body: Adjustment) -> Stock:
        if body.delta == 0:
            raise Unprocessable("delta", "an adjustment must change the stock")
        item = await service.adjust(
            product_id, body.delta, body.reason, expected_version=body.expected_version
        )
        return Stock.of(item)

    @app.post(
        "/reservations",
        status_code=201,
        response_model=ReservationView,
        tags=["reservations"],
        responses=declared(401, 403, (409, "Not enough stock: the reservation is rejected")),
        dependencies=[SERVICE],
    )
    async def reserve(body: NewReservation) -> ReservationView:
        lines = [Line(product_id=line.product_id, quantity=line.quantity) for line in body.lines]
        reservation = await service.reserve(body.order_id, lines)
        if reservation.status == "rejected":
            raise Conflict(reservation.reason or "not enough stock")
        return ReservationView.of(reservation)

    @app.get(
        "/reservations/{order_id}",
        response_model=ReservationView,
        tags=["reservations"],
        responses=declared(401, 403, 404),
        dependencies=[BACK_OFFICE],
    )
    async def get_reservation(order_id: Identifier) -> ReservationView:
        return ReservationView.of(await service.require_reservation(order_id))

    @app.delete(
        "/reservations/{order_id}",
        status_code=204,
        tags=["reservations"],
        responses=declared(401, 403, 404, 409),
        dependencies=[SERVICE],
    )
    async def release(order_id: Identifier) -> Response:
        await service.require_reservation(order_id)
        await service.release(order_id)
        return Response(status_code=204)

    return app
