"""Orders' HTTP API: place, read, list, cancel; and the replicas, read-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query

from shop.common.guards import BACK_OFFICE, Caller, require_self_or_staff
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, QueryId
from shop.orders.access import customer_filter, placed_by, require_may_cancel, require_visible
from shop.orders.history import HistoryEntry, history_of
from shop.orders.schemas import Cancellation, Customer, NewOrder, Order, OrderStatus, Price
from shop.orders.service import OrdersService, StartSaga
from tidings.storage.database import Database


def create_app(
    database: Database,
    publisher: Publisher | None = None,
    start_saga: StartSaga | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    """Orders' app; with ``start_saga`` each placed order starts the order saga."""
    service = OrdersService(database, publisher or OutboxPublisher(), start_saga)
    app = create_service_app(
        service="orders",
        database=database,
        description="Orders and their lines; the order saga's home.",
        readiness=readiness,
    )
    app.state.orders = service

    @app.post(
        "/orders",
        status_code=201,
        response_model=Order,
        tags=["orders"],
        responses=declared(401, (403, "A service, or a customer naming someone else"), 409),
    )
    async def place_order(body: NewOrder, caller: Caller) -> Order:
        return await service.place(placed_by(caller, body))

    @app.get(
        "/orders",
        response_model=Page[Order],
        tags=["orders"],
        responses=declared(401, (403, "A customer asking for someone else's orders")),
    )
    async def list_orders(
        caller: Caller,
        user_id: QueryId = None,
        status: OrderStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[Order]:
        items, total = await service.page(
            user_id=customer_filter(caller, user_id), status=status, limit=limit, offset=offset
        )
        return Page[Order](items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/orders/{order_id}",
        response_model=Order,
        tags=["orders"],
        responses=declared(401, (404, "No such order, or another customer's")),
    )
    async def get_order(order_id: Identifier, caller: Caller) -> Order:
        return require_visible(caller, await service.get(order_id))

    @app.post(
        "/orders/{order_id}/cancel",
        response_model=Order,
        tags=["orders"],
        responses=declared(
            401,
            (403, "A service: customers and staff cancel orders"),
            (404, "No such order, or another customer's"),
            (409, "A stale version, or the order is no longer pending"),
        ),
    )
    async def cancel_order(order_id: Identifier, body: Cancellation, caller: Caller) -> Order:
        require_may_cancel(caller, await service.get(order_id))
        return await service.cancel(order_id, body)

    @app.get(
        "/replicas/customers/{user_id}",
        response_model=Customer,
        tags=["replicas"],
        responses=declared(401, 403, 404),
        dependencies=[BACK_OFFICE],
    )
    async def replicated_customer(user_id: Identifier) -> Customer:
        return await service.customer(user_id)

    @app.get(
        "/replicas/prices/{product_id}",
        response_model=Price,
        tags=["replicas"],
        responses=declared(401, 403, 404),
        dependencies=[BACK_OFFICE],
    )
    async def replicated_price(product_id: Identifier) -> Price:
        return await service.price(product_id)

    @app.get(
        "/customers/{user_id}/orders",
        response_model=list[HistoryEntry],
        tags=["order history"],
        responses=declared(401, (403, "Another customer's history")),
    )
    async def order_history(user_id: Identifier, caller: Caller) -> list[HistoryEntry]:
        """The read side: eventually consistent with the orders above."""
        require_self_or_staff(caller, user_id)
        return await history_of(database, user_id)

    return app
