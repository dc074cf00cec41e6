"""FastAPI routers: ``/health/live``, ``/health/ready`` and ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry

from tidings.brokers.base import Broker
from tidings.observability.health import HealthCheck, check_health
from tidings.observability.metrics import render_metrics
from tidings.storage.database import Database

log = logging.getLogger("tidings.observability")

Refresh = Callable[[], Awaitable[object]]


def health_router(
    *checks: HealthCheck,
    database: Database | None = None,
    broker: Broker | None = None,
    relay_lag: float | timedelta | None = None,
    max_backlog: int | None = None,
    timeout: float = 5.0,
    prefix: str = "/health",
) -> APIRouter:
    """``GET {prefix}/live``: 200 while the process serves requests, nothing else checked
    (a restart would not help a database outage). ``GET {prefix}/ready``: 200 when every
    check passes, else 503 with the failing components named (see
    :meth:`HealthReport.to_dict`). Arguments as for :func:`check_health`.
    """
    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        report = await check_health(
            *checks,
            database=database,
            broker=broker,
            relay_lag=relay_lag,
            max_backlog=max_backlog,
            timeout=timeout,
        )
        return JSONResponse(report.to_dict(), status_code=200 if report.healthy else 503)

    return router


def metrics_router(
    registry: CollectorRegistry = REGISTRY,
    *,
    path: str = "/metrics",
    refresh: Sequence[Refresh] = (),
) -> APIRouter:
    """``GET {path}``: the Prometheus text exposition of ``registry``.

    ``refresh`` callables run before each scrape to bring gauges up to date (e.g.
    ``lambda: outbox_status(database)`` sets the backlog gauges); one that fails is
    logged and the scrape still answers with what the registry holds.
    """
    router = APIRouter(tags=["health"])

    @router.get(path, include_in_schema=False)
    async def metrics() -> Response:
        for update in refresh:
            try:
                await update()
            # A scrape must not fail because one gauge could not be refreshed.
            except Exception:
                log.warning("metrics refresh %r failed", update, exc_info=True)
        body, content_type = render_metrics(registry)
        return Response(body, media_type=content_type)

    return router
