"""Users' HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Response

from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, Version
from shop.users.schemas import NewUser, User, UserChange
from shop.users.service import UsersService
from tidings.storage.database import Database


def create_app(
    database: Database,
    publisher: Publisher | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
) -> FastAPI:
    service = UsersService(database, publisher or OutboxPublisher())
    app = create_service_app(
        service="users",
        database=database,
        description="Customers and their profiles.",
        readiness=readiness,
    )
    app.state.users = service

    @app.post(
        "/users",
        status_code=201,
        response_model=User,
        tags=["users"],
        responses=declared((409, "The e-mail address is taken")),
    )
    async def register(body: NewUser) -> User:
        return await service.register(body)

    @app.get("/users", response_model=Page[User], tags=["users"])
    async def list_users(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[User]:
        items, total = await service.page(limit=limit, offset=offset)
        return Page[User](items=items, total=total, limit=limit, offset=offset)

    @app.get("/users/{user_id}", response_model=User, tags=["users"], responses=declared(404))
    async def get_user(user_id: Identifier) -> User:
        return await service.get(user_id)

    @app.patch(
        "/users/{user_id}",
        response_model=User,
        tags=["users"],
        responses=declared(404, 409),
    )
    async def update_user(user_id: Identifier, body: UserChange) -> User:
        return await service.update(user_id, body)

    @app.delete("/users/{user_id}", status_code=204, tags=["users"], responses=declared(404, 409))
    async def delete_user(user_id: Identifier, version: Annotated[Version, Query()]) -> Response:
        await service.delete(user_id, version)
        return Response(status_code=204)

    return app
