"""The notes example: a profile change in the user service reaches the notes
service's authors replica through the outbox, the relay, the broker and the inbox,
on the embedded pair (SQLite + in-process broker) and on PostgreSQL + RabbitMQ."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from examples.notes.contracts import ProfileChanged, registry
from examples.notes.notes.authors import CONSUMER, authors_consumer, get_author
from examples.notes.replication import Replication, wait_for_author
from examples.notes.system import system
from examples.notes.user import publishing
from tidings.brokers.base import Broker
from tidings.brokers.factory import broker_from_url
from tidings.brokers.rabbitmq import RabbitMQBroker
from tidings.errors import ConcurrencyError
from tidings.inbox import Outcome
from tidings.messages import encode
from tidings.migrations import runner
from tidings.outbox import outbox
from tidings.storage.database import Database

AMQP_URL = os.environ.get("TIDINGS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

SETUPS = [
    pytest.param(("sqlite", "memory://"), id="sqlite-memory"),
    pytest.param(
        ("postgres", AMQP_URL),
        id="postgres-rabbitmq",
        marks=[pytest.mark.postgres, pytest.mark.rabbitmq],
    ),
]


async def migrated(make_database: Any, backend: str, service: str) -> Database:
    database: Database = await make_database(backend, service=service)
    await runner.upgrade(database, system.service(service))
    return database


@pytest.fixture
async def services(
    request: pytest.FixtureRequest, make_database: Any
) -> AsyncIterator[tuple[Database, Database, Broker]]:
    backend, url = request.param
    user_db = await migrated(make_database, backend, "user")
    notes_db = await migrated(make_database, backend, "notes")
    broker = broker_from_url(url, namespace=f"tidings_n_{uuid.uuid4().hex[:10]}")
    async with broker:
        try:
            yield user_db, notes_db, broker
        finally:
            if isinstance(broker, RabbitMQBroker):
                await broker.delete_namespace([f"notes.{CONSUMER}"])


@pytest.mark.parametrize("services", SETUPS, indirect=True)
async def test_a_renamed_profile_reaches_the_notes_service(
    services: tuple[Database, Database, Broker],
) -> None:
    user_db, notes_db, broker = services
    user_id = str(uuid.uuid4())
    async with Replication(user_db, notes_db, broker) as replication:
        await publishing.create_profile(user_db, user_id, "Ada")
        author = await wait_for_author(notes_db, user_id, 1)
        assert author.display_name == "Ada"
        profile = await publishing.update_profile(
            user_db, user_id, 1, display_name="Ada Lovelace", bio="analyst"
        )
        with pytest.raises(ConcurrencyError):
            # A stale update commits nothing, so it publishes nothing.
            await publishing.update_profile(user_db, user_id, 1, display_name="Ada B", bio="")
        author = await wait_for_author(notes_db, user_id, profile.version)
        assert (author.display_name, author.profile_version) == ("Ada Lovelace", 2)
    assert replication.relay.published == 2
    async with user_db.transaction() as connection:
        rows = (await connection.execute(outbox.select())).all()
    assert len(rows) == 2
    assert all(row.published_at is not None for row in rows)


@pytest.mark.parametrize("services", SETUPS[:1], indirect=True)
async def test_an_older_redelivered_change_never_moves_the_name_backwards(
    services: tuple[Database, Database, Broker],
) -> None:
    _, notes_db, _ = services
    consumer = authors_consumer(notes_db)
    user_id = str(uuid.uuid4())

    def change(name: str, version: int) -> bytes:
        event = ProfileChanged(user_id=user_id, display_name=name, version=version)
        return encode(registry.envelope_for(event, source="user", aggregate_id=user_id))

    first, second, third = change("Ada", 1), change("Ada Lovelace", 2), change("Ada L.", 3)
    assert await consumer.process(third) is Outcome.APPLIED
    assert await consumer.process(first) is Outcome.APPLIED  # a late one: applied, no effect
    assert await consumer.process(second) is Outcome.APPLIED
    assert await consumer.process(second) is Outcome.DUPLICATE
    author = await get_author(notes_db, user_id)
    assert author is not None
    assert (author.display_name, author.profile_version) == ("Ada L.", 3)
