"""Prometheus collectors for consumers, created once per process.

Collectors are module-level so that any number of consumers share them (a
label tells them apart). If this module is imported twice (``importlib.reload``
in a test), the collectors already registered are reused instead of failing
with a duplicate-registration error.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

# Commit-to-effect spans milliseconds (embedded) to minutes (a consumer catching up).
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


def _collector(
    kind: type[M], name: str, documentation: str, labels: tuple[str, ...], **kw: object
) -> M:
    try:
        return kind(name, documentation, labels, **kw)  # type: ignore[arg-type]
    except ValueError:
        # Already registered by an earlier import of this module.
        existing = REGISTRY._names_to_collectors.get(name)
        if not isinstance(existing, kind):
            raise
        return existing


MESSAGES_CONSUMED = _collector(
    Counter,
    "tidings_messages_consumed",
    "Messages whose handler committed its effect.",
    ("consumer", "type"),
)
DUPLICATES_SKIPPED = _collector(
    Counter,
    "tidings_messages_duplicate",
    "Deliveries acknowledged without effect because the inbox already held the message.",
    ("consumer", "type"),
)
RETRIES = _collector(
    Counter,
    "tidings_message_retries",
    "Handler attempts that failed and were tried again.",
    ("consumer", "type"),
)
DEAD_LETTERS = _collector(
    Counter,
    "tidings_dead_letters",
    "Messages a consumer gave up on and stored as dead letters.",
    ("consumer", "reason"),
)
DEFERRED = _collector(
    Counter,
    "tidings_messages_deferred",
    "Deliveries handed back to the broker because the database was unavailable.",
    ("consumer",),
)
COMMIT_TO_EFFECT = _collector(
    Histogram,
    "tidings_commit_to_effect_seconds",
    "Seconds from the producer's commit to the consumer's commit of the effect.",
    ("consumer", "type"),
    buckets=DELAY_BUCKETS,
)
HELD_BACK = _collector(
    Counter,
    "tidings_messages_held_back",
    "Deliveries handed back to the broker because they arrived before their aggregate's "
    "previous event was applied.",
    ("consumer",),
)
ORDER_GAPS = _collector(
    Counter,
    "tidings_order_gaps",
    "Events applied after waiting past the bound for a predecessor that never came "
    "(a consumer subscribed mid-stream, or a version never published).",
    ("consumer",),
)
