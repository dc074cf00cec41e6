"""Users' HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from shop.common.guards import STAFF, Caller, auth_of, require_self_or_staff
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
from shop.common.responses import declared
from shop.common.validation import Identifier, Offset, Version
from shop.users.credentials import Credentials
from shop.users.schemas import Login, NewUser, Token, User, UserChange
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

    @app.post(
        "/auth/token",
        response_model=Token,
        tags=["auth"],
        responses=declared((401, "The email or password is wrong")),
    )
    async def log_in(body: Login, request: Request) -> Token:
        """A bearer token for the shop's APIs, signed with the shop's secret."""
        issued = await Credentials(database, auth_of(request)).login(body.email, body.password)
        return Token(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            user_id=issued.subject,
            role=issued.role.value,
        )

    @app.get(
        "/users",
        response_model=Page[User],
        tags=["users"],
        responses=declared(401, 403),
        dependencies=[STAFF],
    )
    async def list_users(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> Page[User]:
        items, total = await service.page(limit=limit, offset=offset)
        return Page[User](items=items, total=total, limit=limit, offset=offset)

    @app.get(
        "/users/{user_id}",
        response_model=User,
        tags=["users"],
        responses=declared(401, (403, "Another customer's account"), 404),
    )
    async def get_user(user_id: Identifier, caller: Caller) -> User:
        require_self_or_staff(caller, user_id)
        return await service.get(user_id)

    @app.patch(
        "/users/{user_id}",
        response_model=User,
        tags=["users"],
        responses=declared(401, (403, "Another customer's account"), 404, 409),
    )
    async def update_user(user_id: Identifier, body: UserChange, caller: Caller) -> User:
        require_self_or_staff(caller, user_id)
        return await service.update(user_id, body)

    @app.delete(
        "/users/{user_id}",
        status_code=204,
        tags=["users"],
        responses=declared(401, (403, "Another customer's account"), 404, 409),
    )
    async def delete_user(
        user_id: Identifier, version: Annotated[Version, Query()], caller: Caller
    ) -> Response:
        require_self_or_staff(caller, user_id)
        await service.delete(user_id, version)
        return Response(status_code=204)

    return app
