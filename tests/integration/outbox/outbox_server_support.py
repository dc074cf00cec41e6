"""Shared by the outbox integration tests (a uniquely named module)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tidings.brokers.base import OutgoingMessage
from tidings.messages import Event, MessageRegistry, decode
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database

registry = MessageRegistry()


@registry.register("test.Counted")
class Counted(Event):
    n: int


async def kill_other_connections(database: Database) -> int:
    """Terminate every other session on ``database``'s database (a crashed relay's view)."""
    engine = create_async_engine(database.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if database.backend is Backend.POSTGRESQL:
                result = await connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                return int(result.scalar_one())
            rows = await connection.execute(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            )
            killed = 0
            for (session,) in rows.all():
                await connection.execute(text(f"KILL CONNECTION {int(session)}"))
                killed += 1
            return killed
    finally:
        await engine.dispose()


def assert_per_aggregate_order(published: Sequence[OutgoingMessage]) -> None:
    """For every aggregate, first publications come in aggregate-version order."""
    seen: set[str] = set()
    versions: dict[str, list[int]] = defaultdict(list)
    for message in published:
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        envelope = decode(message.body)
        assert envelope.aggregateid is not None
        assert envelope.aggregateversion is not None
        versions[envelope.aggregateid].append(envelope.aggregateversion)
    for aggregate, order in versions.items():
        assert order == sorted(order), f"aggregate {aggregate} left out of order: {order}"
