"""Side effects from projections: outbox messages that a rebuild must not repeat."""

from __future__ import annotations

from typing import Any

from tidings.messages.registry import MessageRegistry
from tidings.projections.definition import Publisher
from tidings.storage.uow import UnitOfWork


def outbox_publisher(registry: MessageRegistry) -> Publisher:
    """A publisher writing to the service's outbox (``tidings.outbox.writer.add``).

    Given to a runner, it lets handlers call ``await ctx.publish(message,
    aggregate_type=..., aggregate_id=...)``; during a rebuild ``ctx.publish``
    does nothing, so replaying history sends nothing twice.
    """
    from tidings.outbox.writer import add

    async def publish(uow: UnitOfWork, message: Any, **options: Any) -> Any:
        return await add(uow, registry, message, **options)

    return publish
