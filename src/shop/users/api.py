"""Users' HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from shop.common.guards import STAFF, Caller, auth_of, require_self_or_staff
from shop.common.http import ReadinessCheck, create_service_app
from shop.common.paging import Page
from shop.common.publishing import OutboxPublisher, Publisher
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

    @app.post("/users", status_code=201, response_model=User, tags=["users"])
    async def register(body: NewUser) -> User:
        return await service.register(body)

    @app.post(
        "/auth/token",
        response_model=Token,
        tags=["auth"],
        responses={401: {"description": "The email or password is wrong"}},
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

    @app.get("/users", response_model=Page[User], tags=["users"], dependencies=[STAFF])
    async def list_users(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Page[User]:
        items, total = await service.page(limit=limit, offset=offset)
        return Page[User](items=items, total=total, limit=limit, offset=offset)

    @app.get("/users/{user_id}", response_model=User, tags=["users"])
    async def get_user(user_id: str, caller: Caller) -> User:
        require_self_or_staff(caller, user_id)
        return await service.get(user_id)

    @app.patch("/users/{user_id}", response_model=User, tags=["users"])
    async def update_user(user_id: str, body: UserChange, caller: Caller) -> User:
        require_self_or_staff(caller, user_id)
        return await service.update(user_id, body)

    @app.delete("/users/{user_id}", status_code=204, tags=["users"])
    async def delete_user(
        user_id: str, version: Annotated[int, Query(ge=1)], caller: Caller
    ) -> Response:
        require_self_or_staff(caller, user_id)
        await service.delete(user_id, version)
        return Response(status_code=204)

    return app
