"""The Prometheus text exposition of a registry (the process-wide one by default)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


def render_metrics(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """``(body, content type)`` for a ``/metrics`` response."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
