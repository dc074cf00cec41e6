"""Payments' HTTP API: take (idempotent per order), refund, read, list, ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Response

from shop.common.guards import BACK_OFFICE, SERVICE
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, QueryId
from shop.payments.gateway import Gateway, SimulatedGateway
from shop.payments.schemas import LedgerEntry, LedgerTotals, NewPayment, Payment, Refund
from shop.payments.service import PaymentsService
from tidings.storage.database import Database


def create_app(
    database: Database,
    publisher: Publisher | None = None,
    gateway: Gateway | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = PaymentsService(
        database, publisher or OutboxPublisher(), gateway or SimulatedGateway()
    )
    app = create_service_app(
        service="payments",
        database=database,
        description="Payments for orders and the append-only ledger of money moved.",
        readiness=readiness,
    )
    app.state.payments = service

    @app.post(
        "/payments",
        status_code=201,
        response_model=Payment,
        tags=["payments"],
        responses={
            200: {"description": "The order already has a payment; that one"},
            **declared(401, 403, 409),
        },
        dependencies=[SERVICE],
    )
    async def take_payment(body: NewPayment, response: Response) -> Payment:
        payment, charged = await service.take(body)
        if not charged:
            response.status_code = 200
        return payment

    @app.get(
        "/payments",
        response_model=Page[Payment],
        tags=["payments"],
        responses=declared(401, 403),
        dependencies=[BACK_OFFICE],
    )
    async def list_payments(
        order_id: QueryId = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[Payment]:
        items, total = await service.page(order_id=order_id, limit=limit, offset=offset)
        return Page[Payment](items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/payments/{payment_id}",
        response_model=Payment,
        tags=["payments"],
        responses=declared(401, 403, 404),
        dependencies=[BACK_OFFICE],
    )
    async def get_payment(payment_id: Identifier) -> Payment:
        return await service.get(payment_id)

    @app.post(
        "/payments/{payment_id}/refund",
        response_model=Payment,
        tags=["payments"],
        responses=declared(
            401, 403, 404, (409, "A stale version, or the payment is not refundable")
        ),
        dependencies=[BACK_OFFICE],
    )
    async def refund_payment(payment_id: Identifier, body: Refund) -> Payment:
        return await service.refund(payment_id, body)

    @app.get(
        "/ledger",
        response_model=list[LedgerEntry],
        tags=["ledger"],
        responses=declared(401, 403),
        dependencies=[BACK_OFFICE],
    )
    async def ledger(order_id: QueryId = None) -> list[LedgerEntry]:
        return await service.ledger(order_id=order_id)

    @app.get(
        "/ledger/totals",
        response_model=LedgerTotals,
        tags=["ledger"],
        responses=declared(401, 403),
        dependencies=[BACK_OFFICE],
    )
    async def ledger_totals() -> LedgerTotals:
        return await service.totals()

    return app
