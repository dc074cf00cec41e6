"""FastAPI dependencies that admit a caller to a route, or answer 401 / 403.

A route names who may call it::

    @app.post("/products", dependencies=[STAFF])
    @app.post("/orders")
    async def place(body: NewOrder, caller: Caller) -> Order: ...   # any signed-in caller

Every app keeps its :class:`~shop.common.auth.AuthConfig` in ``app.state.auth``
(:func:`shop.common.http.create_service_app` puts it there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shop.common.auth import AuthConfig, Principal, Role, Unauthorized

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from POST /auth/token (users), a service token, or the operator token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def auth_of(request: Request) -> AuthConfig:
    config: AuthConfig = request.app.state.auth
    return config


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_CHALLENGE)


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


async def caller(request: Request, credentials: Credentials) -> Principal:
    """The principal of the request's bearer token; 401 without a valid one."""
    if credentials is None:
        raise unauthorized("this operation needs a bearer token: log in with POST /auth/token")
    try:
        return auth_of(request).verify(credentials.credentials)
    except Unauthorized as error:
        raise unauthorized(str(error)) from error


Caller = Annotated[Principal, Depends(caller)]
"""Any signed-in caller (customer, staff or service); a route parameter."""


def roles(*allowed: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers whose token carries one of ``allowed``."""
    names = " or ".join(role.value for role in allowed)

    async def admit(principal: Caller) -> Principal:
        if principal.role not in allowed:
            raise forbidden(f"this operation is for {names}; the token is a {principal.role}'s")
        return principal

    return admit


async def operator(request: Request, credentials: Credentials) -> None:
    """The operator token, when one is configured.

    Without one the route is open: :func:`shop.serve.serve` refuses to listen beyond
    loopback unless an operator token is configured, so "open" means "this machine".
    """
    config = auth_of(request)
    if config.operator_token is None:
        return
    if credentials is None:
        raise unauthorized("this operator endpoint needs the operator token")
    if not config.is_operator(credentials.credentials):
        raise forbidden("this operator endpoint takes the operator token only")


async def staff_or_operator(request: Request, credentials: Credentials) -> None:
    """Staff, a service, or (when one is configured) the operator token."""
    config = auth_of(request)
    if credentials is not None and config.is_operator(credentials.credentials):
        return
    principal = await caller(request, credentials)
    if principal.role not in (Role.STAFF, Role.SERVICE):
        raise forbidden(
            f"this report is for staff and operators; the token is a {principal.role}'s"
        )


def _depends(dependency: Callable[..., Awaitable[Any]]) -> Any:
    return Depends(dependency)


STAFF = _depends(roles(Role.STAFF))
"""Route dependency: staff only (catalog changes, stock adjustments, the user list)."""
SERVICE = _depends(roles(Role.SERVICE))
"""Route dependency: the service credential only (what the order saga drives)."""
BACK_OFFICE = _depends(roles(Role.STAFF, Role.SERVICE))
"""Route dependency: staff or a service (reading payments, reservations, notifications)."""
OPERATOR = _depends(operator)
"""Route dependency: the operator token when configured (``/metrics``, ``/sagas``)."""
REPORTS = _depends(staff_or_operator)
"""Route dependency: staff, a service or the operator (analytics' reports)."""


def require_self_or_staff(principal: Principal, user_id: str) -> None:
    """403 unless ``principal`` is ``user_id`` themselves or staff."""
    if principal.role is Role.STAFF or principal.subject == user_id:
        return
    raise forbidden("a customer may act on their own account only")
