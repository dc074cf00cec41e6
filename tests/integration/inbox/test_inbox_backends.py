"""The inbox on every backend: competing deliveries race, dead letters round-trip."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from inbox_testkit import (
    FakeDelivery,
    ProfileRenamed,
    effect_counts,
    message_bytes,
    migrate,
    record_effect,
    registry,
)
from sqlalchemy import inspect

from tidings.inbox import (
    Consumer,
    Outcome,
    RetryPolicy,
    applied_ids,
    list_dead_letters,
    replay,
    sync_delays,
)
from tidings.messages import Envelope
from tidings.migrations import runner
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork

WORKERS = 3
MESSAGES = 8


def worker(database: Database) -> Consumer:
    consumer = Consumer("replica", database, registry, retry=RetryPolicy(initial_delay=0.01))

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)
        # Hold the transaction open a moment so the competing deliveries overlap it.
        await asyncio.sleep(0.02)

    return consumer


async def test_competing_deliveries_of_one_message_take_effect_once(db: Database) -> None:
    # Each worker has its own engine and pool, like separate processes.
    workers = [worker(Database(db.service, db.url)) for _ in range(WORKERS)]
    messages = [
        message_bytes(ProfileRenamed(user_id=f"u{n}", name=f"name {n}")) for n in range(MESSAGES)
    ]
    try:
        outcomes = await asyncio.gather(
            *(
                consumer.handle_delivery(FakeDelivery(body))
                for _, body in messages
                for consumer in workers
            )
        )
    finally:
        for consumer in workers:
            await consumer.database.close()

    assert await effect_counts(db) == {message_id: 1 for message_id, _ in messages}
    assert Counter(outcomes) == {
        Outcome.APPLIED: MESSAGES,
        Outcome.DUPLICATE: MESSAGES * (WORKERS - 1),
    }
    assert await applied_ids(db, "replica") == {message_id for message_id, _ in messages}
    assert await list_dead_letters(db) == []


async def test_dead_letters_round_trip_bytes_and_replay(db: Database) -> None:
    broken = [True]
    consumer = Consumer("replica", db, registry, retry=RetryPolicy(max_attempts=2, jitter=0))

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await record_effect(uow, envelope.id, event.name)
        if broken[0]:
            raise RuntimeError("downstream cache unavailable")

    garbage = bytes(range(256)) * 300  # larger than a 64 KiB BLOB
    message_id, body = message_bytes(ProfileRenamed(user_id="u1", name="Ada Lovelace ✓"))
    assert await consumer.process(garbage, {"h": "ü"}) is Outcome.DEAD_LETTERED
    assert await consumer.process(body, {"traceparent": "00-x"}) is Outcome.DEAD_LETTERED

    letters = {letter.reason: letter for letter in await list_dead_letters(db)}
    assert letters["malformed"].body == garbage
    assert letters["malformed"].headers == {"h": "ü"}
    assert letters["failed"].message_id == message_id
    assert letters["failed"].attempts == 2
    assert "downstream cache unavailable" in letters["failed"].error
    assert await effect_counts(db) == {}

    broken[0] = False
    assert await replay(db, letters["failed"].id, consumer) is Outcome.APPLIED
    assert await replay(db, letters["failed"].id, consumer) is Outcome.DUPLICATE
    assert await effect_counts(db) == {message_id: 1}
    [delay] = (await sync_delays(db))["users.ProfileRenamed"]
    assert 0 <= delay < 60


async def test_the_migration_operations_create_and_drop_the_tables(
    database: Database, tmp_path: Path
) -> None:
    service = await migrate(database, tmp_path)

    def tables(connection) -> set[str]:  # type: ignore[no-untyped-def]
        return set(inspect(connection).get_table_names())

    async with database.connect() as connection:
        assert {"inbox", "dead_letters"} <= await connection.run_sync(tables)
    await runner.downgrade(database, service, "base")
    async with database.connect() as connection:
        assert not {"inbox", "dead_letters"} & await connection.run_sync(tables)
