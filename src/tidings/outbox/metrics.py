"""Prometheus collectors for the outbox, created on first use (nothing at import)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram


@dataclass(frozen=True)
class OutboxMetrics:
    backlog: Gauge
    oldest_age: Gauge
    published: Counter
    batch_seconds: Histogram


@functools.cache
def outbox_metrics() -> OutboxMetrics:
    """The process-wide collectors, registered in the default registry once."""
    return OutboxMetrics(
        backlog=Gauge(
            "tidings_outbox_backlog",
            "Outbox rows committed but not yet confirmed by the broker.",
            ["service"],
        ),
        oldest_age=Gauge(
            "tidings_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
            ["service"],
        ),
        published=Counter(
            "tidings_outbox_published",
            "Outbox rows published and confirmed by the broker.",
            ["service"],
        ),
        batch_seconds=Histogram(
            "tidings_outbox_publish_batch_seconds",
            "Time to publish one batch and have the broker confirm it.",
            ["service"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ),
    )
