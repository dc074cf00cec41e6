"""The HTTP shell every shop service wraps around its routes.

Errors from the library map to status codes here, once: :class:`NotFound` is 404,
:class:`~shop.common.auth.Unauthorized` 401 and :class:`~shop.common.auth.Forbidden` 403,
:class:`ConcurrencyError` (a stale ``version``), :class:`IntegrityError` (a
duplicate) and :class:`~shop.common.errors.Conflict` are 409;
:class:`~shop.common.errors.Unprocessable` is a 422 naming its field; an
unreachable database is 503. Every app publishes its OpenAPI document,
``/health/live``, ``/health/ready`` and ``/metrics`` (behind the operator token
when one is configured, see :mod:`shop.common.guards`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.middleware.base import RequestResponseEndpoint

from shop.common.auth import AuthConfig, Forbidden, Unauthorized, default_auth
from shop.common.errors import Conflict, Unprocessable
from shop.common.guards import OPERATOR
from tidings.brokers.base import Broker
from tidings.errors import (
    ConcurrencyError,
    IntegrityError,
    NotFound,
    OperationalError,
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
    app = FastAPI(title=f"shop {service}", description=description, version="0.1.0")
    app.state.service = service
    app.state.auth = auth or default_auth()
    app.state.database = database
    _add_error_handlers(app)
    _add_health(app, [database_check(database), *readiness])
    _add_metrics(app, service)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    async def not_found(_request: Request, error: Exception) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=404)

    async def conflict(_request: Request, error: Exception) -> Response:
        body: dict[str, object] = {"detail": str(error)}
        if isinstance(error, ConcurrencyError):
            body.update(expected_version=error.expected, actual_version=error.actual)
        return JSONResponse(body, status_code=409)

    async def unavailable(_request: Request, error: Exception) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=503)

    async def refused(_request: Request, error: Exception) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=409)

    async def unprocessable(_request: Request, error: Exception) -> Response:
        field = getattr(error, "field", "body")
        # The same shape as FastAPI's own validation errors, so clients parse one format.
        detail = [{"loc": ["body", field], "msg": str(error), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    async def unauthenticated(_request: Request, error: Exception) -> Response:
        return JSONResponse(
            {"detail": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def forbidden(_request: Request, error: Exception) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=403)

    app.add_exception_handler(Unauthorized, unauthenticated)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Conflict, refused)
    app.add_exception_handler(Unprocessable, unprocessable)
    app.add_exception_handler(ConcurrencyError, conflict)
    app.add_exception_handler(IntegrityError, conflict)
    app.add_exception_handler(OperationalError, unavailable)


def _add_health(app: FastAPI, checks: Sequence[ReadinessCheck]) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        """The process answers; says nothing about its dependencies."""
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> Response:
        """Every dependency answers: 200, else 503 naming what failed."""
        results: dict[str, str] = {}
        for check in checks:
            try:
                await check.check()
                results[check.name] = "ok"
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
