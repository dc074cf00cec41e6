"""Feeding a projection from another service's events, through the inbox.

``projection_handler(projection)`` is a consumer handler
(``async def handler(uow, message, envelope)``): the inbox records the message
id in the same transaction as the read-model rows, so a redelivery has no second
effect. There is no local event-store position here, so no checkpoint moves:
the inbox is the record of what was applied, and :func:`wait_for_position` does
not apply to such projections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from tidings.eventstore.base import RecordedEvent
from tidings.projections.definition import Projection, ProjectionContext, Publisher, live_tables
from tidings.storage.uow import UnitOfWork

ConsumerHandler = Callable[[UnitOfWork, Any, Any], Awaitable[None]]


class EnvelopeLike(Protocol):
    """The CloudEvents attributes the adapter reads (others are ignored)."""

    id: str
    type: str


def event_from_message(message: Any, envelope: Any) -> RecordedEvent:
    """A :class:`RecordedEvent` view of a consumed message.

    ``type`` is the envelope's type name (so the projection's handlers are keyed
    by type names such as ``users.UserRenamed``); data is the envelope's data,
    else the message's fields. The aggregate id and version extensions
    become stream id and version when present.
    """
    wire = getattr(envelope, "data", None)
    if isinstance(wire, Mapping):
        data: Mapping[str, Any] = wire  # what the event store would hold: the wire form
    elif hasattr(message, "model_dump"):
        data = message.model_dump(mode="json")
    elif isinstance(message, Mapping):
        data = message
    else:
        data = {"value": message}
    time = getattr(envelope, "time", None)
    recorded_at = time if isinstance(time, datetime) else datetime.now(UTC)
    extensions = _extensions(envelope)
    return RecordedEvent(
        event_id=str(getattr(envelope, "id", "")),
        stream_id=str(extensions.get("aggregateid") or getattr(envelope, "subject", "") or ""),
        stream_version=int(extensions.get("aggregateversion") or 0),
        position=0,
        type=str(getattr(envelope, "type", type(message).__name__)),
        schema_version=int(extensions.get("schemaversion") or 1),
        data=data,
        metadata={k: v for k, v in extensions.items() if isinstance(v, str | int)},
        recorded_at=recorded_at,
    )


def _extensions(envelope: Any) -> dict[str, Any]:
    found = getattr(envelope, "extensions", None)
    result: dict[str, Any] = dict(found) if isinstance(found, Mapping) else {}
    for name in ("aggregateid", "aggregateversion", "schemaversion", "correlationid"):
        if name not in result and getattr(envelope, name, None) is not None:
            result[name] = getattr(envelope, name)
    return result


def projection_handler(
    projection: Projection, *, publisher: Publisher | None = None
) -> ConsumerHandler:
    """A consumer handler that applies each consumed event to ``projection``'s live tables.

    Event types the projection does not handle are acknowledged and ignored.
    """
    tables = live_tables(projection)

    async def handle(uow: UnitOfWork, message: Any, envelope: Any) -> None:
        event = event_from_message(message, envelope)
        handler = projection.handler_for(event.type)
        if handler is None:
            return
        context = ProjectionContext(uow, tables, replaying=False, publisher=publisher)
        await handler(context, event)
        await context.flush()

    handle.__name__ = f"project_{projection.name}"
    return handle
