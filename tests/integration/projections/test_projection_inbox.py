"""A projection fed through a real inbox consumer: applied once, however often delivered."""

from __future__ import annotations

from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tidings.inbox import ops as inbox_ops
from tidings.inbox.consumer import Consumer, Outcome
from tidings.messages import Event, MessageRegistry, encode
from tidings.projections import projection_handler
from tidings.storage.database import Database
from tidings.testing.projections import create_tables, read_tallies, tallies, tally_projection

registry = MessageRegistry()


@registry.register("Added")
class Added(Event):
    amount: int


async def _install_inbox(database: Database) -> None:
    def run(connection: Connection) -> None:
        with Operations.context(MigrationContext.configure(connection)):
            inbox_ops.create_inbox()
            inbox_ops.create_dead_letters()

    async with database.transaction() as connection:
        await connection.run_sync(run)


async def test_redelivered_events_reach_the_read_model_once(database: Database) -> None:
    await _install_inbox(database)
    await create_tables(database, tallies)
    consumer = Consumer("tallies", database, registry)
    consumer.on(Added, projection_handler(tally_projection()))
    bodies: list[Any] = [
        encode(
            registry.envelope_for(
                Added(amount=amount), source="remote", aggregate_type="acct", aggregate_id="r1"
            )
        )
        for amount in (2, 3)
    ]

    outcomes = [await consumer.process(body) for body in bodies + bodies]

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await read_tallies(database) == {"r1": (2, 5)}
