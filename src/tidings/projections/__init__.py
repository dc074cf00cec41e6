"""Projections: read models kept current from the event store (CQRS).

* :class:`Projection` names a read model's tables and a handler per event type;
  handlers write through a :class:`ProjectionContext`.
* :class:`ProjectionRunner` catches up in batches (rows and checkpoint in one
  transaction), then follows live; lag is a Prometheus gauge.
* :func:`rebuild` replays from position 0 into shadow tables and swaps them in.
* :func:`wait_for_position` gives read-your-writes, bounded by a timeout.
* :func:`projection_handler` feeds a projection from the inbox instead.

Writing one::

    builder = projection("post_list", [post_list_table], service="blog")

    @builder.on("blog.PostCreated")
    async def created(ctx: ProjectionContext, event: RecordedEvent) -> None:
        ctx.insert(post_list_table, {"post_id": event.data["post_id"], ...})

    post_list = builder.build()

Handlers name tables through ``ctx`` (``ctx.table(t)``, ``ctx.insert(t, row)``),
so a rebuild can point them at shadow tables. ``ctx.replaying`` is true during a
rebuild; ``await ctx.publish(message, aggregate_type=..., aggregate_id=...)``
writes to the outbox through the runner's ``publisher`` (see
:func:`outbox_publisher`) and does nothing while replaying.

Running one: ``async with ProjectionRunner(db, store, post_list).running(): ...``
or ``await runner.run()`` in a service process; call ``runner.wake()`` after an
append to skip the poll interval. The service's migrations include
``tidings.projections.ops.create_projection_checkpoints()`` and create the
read-model tables.

From another service's events: register ``projection_handler(post_list)`` as a
consumer handler (``consumer.on(PostPublished, projection_handler(post_list))``);
handlers are then keyed by the envelope's type name, the inbox deduplicates, and
no checkpoint is kept (the inbox is the record of what was applied).

In a system: list projections in ``System.extras["projections"]`` (each naming
its ``service`` unless the system has one); ``tidings projection status|rebuild``
find them there and build the store with
``tidings.eventstore.factory.event_store_for`` (or ``extras["event_store"]``).
"""

from tidings.projections.checkpoints import (
    Checkpoint,
    Status,
    all_checkpoints,
    load_checkpoint,
    projection_checkpoints,
)
from tidings.projections.consistency import StaleRead, query_at, wait_for_position
from tidings.projections.definition import (
    Handler,
    Projection,
    ProjectionBuilder,
    ProjectionContext,
    Publisher,
    projection,
)
from tidings.projections.inbox import event_from_message, projection_handler
from tidings.projections.publishing import outbox_publisher
from tidings.projections.rebuild import RebuildResult, rebuild
from tidings.projections.registry import find_projection, projections_of
from tidings.projections.runner import ProjectionRunner

__all__ = [
    "Checkpoint",
    "Handler",
    "Projection",
    "ProjectionBuilder",
    "ProjectionContext",
    "ProjectionRunner",
    "Publisher",
    "RebuildResult",
    "StaleRead",
    "Status",
    "all_checkpoints",
    "event_from_message",
    "find_projection",
    "load_checkpoint",
    "outbox_publisher",
    "projection",
    "projection_checkpoints",
    "projection_handler",
    "projections_of",
    "query_at",
    "rebuild",
    "wait_for_position",
]
