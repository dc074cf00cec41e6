"""The HTTP shell every shop service wraps around its routes.

Errors from the library map to status codes here, once: :class:`NotFound` is 404,
:class:`~shop.common.auth.Unauthorized` 401 and :class:`~shop.common.auth.Forbidden` 403,
:class:`ConcurrencyError` (a stale ``version``), :class:`IntegrityError` (a
duplicate) and :class:`~shop.common.errors.Conflict` are 409;
:class:`~shop.common.errors.Unprocessable` is a 422 naming its field; an
unreachable database is 503; the route guards (:mod:`shop.common.guards`) answer
401 and 403 the same way. Refusals carry the request's id
(:mod:`shop.common.failures`), never a database URL or a driver's message; an
unexpected error answers 500 and leaves the connection usable. Every app publishes
its OpenAPI document, ``/health/live``, ``/health/ready`` and ``/metrics`` (behind
the operator token when one is configured).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint

from shop.common.auth import AuthConfig, Forbidden, Unauthorized, default_auth
from shop.common.errors import Conflict, Unprocessable
from shop.common.failures import ContainedErrors, logger, request_id_of
from shop.common.guards import OPERATOR
from shop.common.responses import EVERY_ROUTE
from tidings.brokers.base import Broker
from tidings.errors import (
    ConcurrencyError,
    IntegrityError,
    NotFound,
    OperationalError,
    StorageError,
)
from tidings.outbox import outbox_status
from tidings.storage.database import Database


@dataclass(frozen=True)
class ReadinessCheck:
    """One thing readiness depends on; ``check`` raises when it is not ready."""

    name: str
    check: Callable[[], Awaitable[None]]


def database_check(database: Database) -> ReadinessCheck:
    async def ping() -> None:
        async with database.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return ReadinessCheck("database", ping)


def broker_check(broker: Broker) -> ReadinessCheck:
    return ReadinessCheck("broker", broker.ping)


def relay_lag_check(database: Database, max_lag_seconds: float = 30.0) -> ReadinessCheck:
    """Not ready while the oldest unpublished outbox row is older than ``max_lag_seconds``:
    the relay is down or the broker refuses, and other services stop hearing from us."""

    async def lag() -> None:
        status = await outbox_status(database)
        age = status.oldest_age
        if age is not None and age.total_seconds() > max_lag_seconds:
            raise RuntimeError(
                f"relay lag: {status.backlog} rows unpublished, the oldest for "
                f"{age.total_seconds():.0f}s"
            )

    return ReadinessCheck("relay", lag)


def create_service_app(
    *,
    service: str,
    database: Database,
    description: str = "",
    readiness: Sequence[ReadinessCheck] = (),
    auth: AuthConfig | None = None,
) -> FastAPI:
    """A FastAPI app for ``service`` with error mapping, health and metrics in place.

    Readiness always checks the database; ``readiness`` adds more (broker, relay lag).
    Tokens are checked against ``auth`` (the environment's, see
    :func:`~shop.common.auth.default_auth`); the composition root may replace
    ``app.state.auth``. Nothing connects until a request arrives.
    """
    app = FastAPI(
        title=f"shop {service}",
        description=description,
        version="0.1.0",
        responses=EVERY_ROUTE,
    )
    app.state.service = service
    app.state.auth = auth or default_auth()
    app.state.database = database
    _add_error_handlers(app)
    _add_health(app, [database_check(database), *readiness])
    _add_metrics(app, service)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    # Added before the metrics middleware, so it sits inside it and 500s are counted.
    app.add_middleware(ContainedErrors)

    async def not_found(request: Request, error: Exception) -> Response:
        return _refusal(request, 404, str(error))

    async def stale(request: Request, error: Exception) -> Response:
        assert isinstance(error, ConcurrencyError)
        return _refusal(
            request,
            409,
            str(error),
            expected_version=error.expected,
            actual_version=error.actual,
        )

    async def duplicate(request: Request, error: Exception) -> Response:
        # The driver's message names constraints and values, the context names the
        # database: both go to the log, the client gets the request id.
        _log(request, error)
        return _refusal(request, 409, "conflicts with a record that already exists")

    async def unavailable(request: Request, error: Exception) -> Response:
        _log(request, error)
        return _refusal(request, 503, "the service's database does not answer; try again")

    async def refused(request: Request, error: Exception) -> Response:
        return _refusal(request, 409, str(error))

    async def unprocessable(_request: Request, error: Exception) -> Response:
        field = getattr(error, "field", "body")
        # The same shape as FastAPI's own validation errors, so clients parse one format.
        detail = [{"loc": ["body", field], "msg": str(error), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    async def unauthenticated(request: Request, error: Exception) -> Response:
        response = _refusal(request, 401, str(error))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    async def forbidden(request: Request, error: Exception) -> Response:
        return _refusal(request, 403, str(error))

    async def unreadable(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 400:
            # FastAPI answers 400 for a body it cannot decode; like any other body it
            # cannot use, that is a 422 naming the body.
            detail = [{"loc": ["body"], "msg": error.detail, "type": "json_invalid"}]
            return JSONResponse({"detail": detail}, status_code=422)
        if isinstance(error.detail, str) and error.status_code >= 400:
            # The guards' 401 and 403 (and routing's 404, 405) carry the request id
            # like every other refusal, and keep their challenge header.
            response = _refusal(request, error.status_code, error.detail)
            response.headers.update(error.headers or {})
            return response
        return await http_exception_handler(request, error)

    async def invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        # FastAPI's own handler echoes each error's input, and fails (a 500) on an
        # input it cannot encode, such as bytes that are not UTF-8. Where and why
        # is what a client needs; its own input it already has.
        detail = [
            {"loc": list(item["loc"]), "msg": str(item["msg"]), "type": str(item["type"])}
            for item in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, unreadable)
    app.add_exception_handler(Unauthorized, unauthenticated)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, refused)
    app.add_exception_handler(Unprocessable, unprocessable)
    app.add_exception_handler(ConcurrencyError, stale)
    app.add_exception_handler(IntegrityError, duplicate)
    app.add_exception_handler(OperationalError, unavailable)


def _refusal(request: Request, status: int, detail: str, **extra: object) -> Response:
    body: dict[str, object] = {"detail": detail, "request_id": request_id_of(request), **extra}
    return JSONResponse(body, status_code=status)


def _log(request: Request, error: Exception) -> None:
    logger.warning(
        "request %s %s %s refused: %s: %s",
        request_id_of(request),
        request.method,
        request.url.path,
        type(error).__name__,
        error,
    )


class Readiness(BaseModel):
    status: str = Field(description="ok, or unavailable")
    checks: dict[str, str] = Field(description="ok, or failed: why, per dependency")


def _add_health(app: FastAPI, checks: Sequence[ReadinessCheck]) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        """The process answers; says nothing about its dependencies."""
        return {"status": "ok"}

    @app.get(
        "/health/ready",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
    )
    async def ready() -> Response:
        """Every dependency answers: 200, else 503 naming what failed."""
        results: dict[str, str] = {}
        for check in checks:
            try:
                await check.check()
                results[check.name] = "ok"
            except StorageError as error:
                # A storage error's text names the database's URL: that stays in the log.
                logger.warning("readiness check %s failed: %s", check.name, error)
                results[check.name] = f"failed: {type(error).__name__}"
            except Exception as error:  # any failure means "not ready", whatever raised it
                results[check.name] = f"failed: {error}"
        healthy = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": results},
            status_code=200 if healthy else 503,
        )


def _add_metrics(app: FastAPI, service: str) -> None:
    # One registry per app: several services can share a process (the embedded demo,
    # the tests) without their metrics colliding in the global registry.
    registry = CollectorRegistry()
    requests = Counter(
        "shop_http_requests",
        "HTTP requests served",
        ["service", "method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "shop_http_request_seconds",
        "HTTP request latency",
        ["service", "method", "route"],
        registry=registry,
    )
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def measure(request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        latency.labels(service, request.method, template).observe(time.perf_counter() - started)
        requests.labels(service, request.method, template, str(response.status_code)).inc()
        return response

    @app.get("/metrics", tags=["health"], include_in_schema=False, dependencies=[OPERATOR])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@asynccontextmanager
async def in_process_client(
    app: FastAPI, auth: httpx.Auth | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls ``app`` in-process, with no server or socket (demo, tests)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shop.internal", auth=auth
    ) as client:
        yield client
