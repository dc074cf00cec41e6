"""Operating a service: health, metrics, structured logs and trace context.

::

    configure_logging("orders")                       # JSON lines on stderr
    app.include_router(health_router(database=db, broker=broker, relay_lag=30))
    app.include_router(metrics_router(refresh=[lambda: outbox_status(db)]))
    app.add_middleware(TraceContextMiddleware)        # requests continue traceparent

    with handling(envelope):                          # a consumer, around its handler
        log.info("reserving")                         # carries correlation and trace ids
        await add(uow, registry, StockReserved(...))  # continues the envelope's trace

Liveness answers 200 while the process serves; readiness is 503 naming each
failing component (database ``SELECT 1``, broker ``ping()``, relay lag).
"""

from tidings.observability.context import (
    CORRELATION_HEADER,
    correlated,
    current_correlation_id,
    current_trace_id,
    handling,
    receiving,
    trace_of,
    traced,
)
from tidings.observability.health import (
    ComponentHealth,
    HealthCheck,
    HealthReport,
    Probe,
    Unhealthy,
    broker_check,
    check_health,
    database_check,
    relay_check,
    standard_checks,
)
from tidings.observability.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
)
from tidings.observability.metrics import render_metrics
from tidings.observability.middleware import TraceContextMiddleware
from tidings.observability.routes import health_router, metrics_router

__all__ = [
    "CORRELATION_HEADER",
    "ComponentHealth",
    "ContextFilter",
    "HealthCheck",
    "HealthReport",
    "JsonFormatter",
    "Probe",
    "TextFormatter",
    "TraceContextMiddleware",
    "Unhealthy",
    "broker_check",
    "check_health",
    "configure_logging",
    "correlated",
    "current_correlation_id",
    "current_trace_id",
    "database_check",
    "handling",
    "health_router",
    "metrics_router",
    "receiving",
    "relay_check",
    "render_metrics",
    "standard_checks",
    "trace_of",
    "traced",
]
