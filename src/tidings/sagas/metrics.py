"""Prometheus metrics of the saga engine, labelled by saga type."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tidings.sagas.state import SagaStatus

STARTED = Counter("tidings_sagas_started", "Saga instances started.", ["saga"])
COMPLETED = Counter("tidings_sagas_completed", "Saga instances that completed.", ["saga"])
COMPENSATED = Counter(
    "tidings_sagas_compensated", "Saga instances that failed and were compensated.", ["saga"]
)
FAILED = Counter(
    "tidings_sagas_failed",
    "Saga instances that failed with nothing to undo, or whose compensation failed.",
    ["saga", "status"],
)
DURATION = Histogram(
    "tidings_saga_duration_seconds",
    "From start to a final (or compensation_failed) status.",
    ["saga", "status"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)


def observe_started(saga: str) -> None:
    STARTED.labels(saga=saga).inc()


def observe_finished(saga: str, status: SagaStatus, seconds: float) -> None:
    """Count a saga that reached ``status``; only called on the transition into it."""
    if status is SagaStatus.COMPLETED:
        COMPLETED.labels(saga=saga).inc()
    elif status is SagaStatus.COMPENSATED:
        COMPENSATED.labels(saga=saga).inc()
    elif status in (SagaStatus.FAILED, SagaStatus.COMPENSATION_FAILED):
        FAILED.labels(saga=saga, status=status.value).inc()
    else:
        return
    DURATION.labels(saga=saga, status=status.value).observe(max(seconds, 0.0))
