"""Notifications' HTTP API: send (idempotent), read, list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Response

from shop.common.guards import BACK_OFFICE, SERVICE
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, Text
from shop.notifications.schemas import NewNotification, Notification
from shop.notifications.service import NotificationsService
from tidings.storage.database import Database


def create_app(
    database: Database,
    publisher: Publisher | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = NotificationsService(database, publisher or OutboxPublisher())
    app = create_service_app(
        service="notifications",
        database=database,
        description="Notifications sent to customers, once per idempotency key.",
        readiness=readiness,
    )
    app.state.notifications = service

    @app.post(
        "/notifications",
        status_code=201,
        response_model=Notification,
        tags=["notifications"],
        responses={
            200: {"description": "Already sent under this key; the first send"},
            **declared(401, 403, 409),
        },
        dependencies=[SERVICE],
    )
    async def send(body: NewNotification, response: Response) -> Notification:
        sent, created = await service.send(body)
        if not created:
            response.status_code = 200
        return sent

    @app.get(
        "/notifications",
        response_model=Page[Notification],
        tags=["notifications"],
        responses=declared(401, 403),
        dependencies=[BACK_OFFICE],
    )
    async def list_notifications(
        recipient: Annotated[Annotated[str, Text(320)] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[Notification]:
        items, total = await service.page(recipient=recipient, limit=limit, offset=offset)
        return Page[Notification](items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/notifications/{notification_id}",
        response_model=Notification,
        tags=["notifications"],
        responses=declared(401, 403, 404),
        dependencies=[BACK_OFFICE],
    )
    async def get_notification(notification_id: Identifier) -> Notification:
        return await service.get(notification_id)

    return app
