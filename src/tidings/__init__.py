"""tidings: data across microservices.

Each service owns its database; changes travel as events through a transactional
outbox, a broker and an idempotent inbox; event sourcing, CQRS projections and
sagas build on those. The most used names are importable from here; each
concern's package (``tidings.outbox``, ``tidings.sagas``, ...) holds the rest.

Names are imported on first use, so ``import tidings`` loads no driver, broker
client or web framework, and does no I/O.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # storage
    "Database": "tidings.storage.database",
    "UnitOfWork": "tidings.storage.uow",
    "unit_of_work": "tidings.storage.uow",
    "update_versioned": "tidings.storage.locking",
    "version_columns": "tidings.storage.locking",
    "Backend": "tidings.storage.capabilities",
    "Capabilities": "tidings.storage.capabilities",
    # systems
    "System": "tidings.system",
    "Service": "tidings.system",
    "register": "tidings.system",
    "get_system": "tidings.system",
    "Settings": "tidings.settings",
    # errors
    "TidingsError": "tidings.errors",
    "ConfigurationError": "tidings.errors",
    "ConcurrencyError": "tidings.errors",
    "IntegrityError": "tidings.errors",
    "OperationalError": "tidings.errors",
    "AppendOnlyViolation": "tidings.errors",
    "NotFound": "tidings.errors",
    "MessageError": "tidings.errors",
    "BrokerError": "tidings.errors",
    # messaging
    "Event": "tidings.messages",
    "Command": "tidings.messages",
    "Envelope": "tidings.messages",
    "MessageRegistry": "tidings.messages",
    "Relay": "tidings.outbox",
    "Consumer": "tidings.inbox",
    "broker_from_url": "tidings.brokers",
    # event sourcing and CQRS
    "Aggregate": "tidings.eventstore",
    "DomainEvent": "tidings.eventstore",
    "Repository": "tidings.eventstore",
    "event_store_for": "tidings.eventstore",
    "Projection": "tidings.projections",
    "ProjectionRunner": "tidings.projections",
    "wait_for_position": "tidings.projections",
    # sagas
    "SagaDefinition": "tidings.sagas",
    "SagaEngine": "tidings.sagas",
    "Step": "tidings.sagas",
    "Parallel": "tidings.sagas",
    "Compensation": "tidings.sagas",
    # consistency and operations
    "check_consistency": "tidings.consistency",
    "health_router": "tidings.observability",
    "metrics_router": "tidings.observability",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tidings' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
