"""Projection lag as Prometheus gauges, created on first use (nothing registers at import)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import REGISTRY, Gauge


@dataclass(frozen=True)
class LagGauges:
    positions: Gauge
    seconds: Gauge
    checkpoint: Gauge


@cache
def lag_gauges() -> LagGauges:
    """The process-wide gauges, labelled by service and projection."""
    labels = ("service", "projection")
    return LagGauges(
        positions=Gauge(
            "tidings_projection_lag_positions",
            "Events the projection has yet to apply, up to the store's safe head.",
            labels,
            registry=REGISTRY,
        ),
        seconds=Gauge(
            "tidings_projection_lag_seconds",
            "Age of the oldest event the projection has not applied (0 when caught up).",
            labels,
            registry=REGISTRY,
        ),
        checkpoint=Gauge(
            "tidings_projection_checkpoint_position",
            "The position the projection's checkpoint holds.",
            labels,
            registry=REGISTRY,
        ),
    )


def record_lag(
    service: str, projection: str, *, checkpoint: int, behind: int, seconds: float
) -> None:
    """``behind`` counts events, not positions: positions may have gaps (PostgreSQL)."""
    gauges = lag_gauges()
    gauges.positions.labels(service, projection).set(max(behind, 0))
    gauges.seconds.labels(service, projection).set(max(seconds, 0.0))
    gauges.checkpoint.labels(service, projection).set(checkpoint)
