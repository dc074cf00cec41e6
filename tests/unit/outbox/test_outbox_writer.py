from __future__ import annotations

import json

import pytest
from outbox_support import Counted, registry
from sqlalchemy import select, text

from tidings.messages import decode
from tidings.outbox import Relay, add, add_envelopes, outbox
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import RecordingBroker


class Boom(Exception):
    pass


async def rows(database: Database) -> list[dict[str, object]]:
    async with database.connect() as connection:
        result = await connection.execute(select(outbox).order_by(outbox.c.seq))
        return [dict(row._mapping) for row in result]


async def test_add_writes_a_debezium_shaped_row(outbox_db: Database) -> None:
    async with unit_of_work(outbox_db) as uow:
        envelope = await add(
            uow, registry, Counted(n=1), aggregate_type="counter", aggregate_id="c-1"
        )
    [row] = await rows(outbox_db)
    assert row["id"] == envelope.id
    assert row["aggregatetype"] == "counter"
    assert row["aggregateid"] == "c-1"
    assert row["type"] == "test.Counted"
    assert row["topic"] == "test.Counted"
    assert row["published_at"] is None
    assert decode(str(row["payload"]).encode()) == envelope
    assert envelope.source == "orders"
    headers = row["headers"]
    assert isinstance(headers, dict)
    # Only trace context: a ce-* header would make CloudEvents readers see binary mode.
    assert headers == {"traceparent": envelope.traceparent}


async def test_rollback_writes_and_publishes_nothing(outbox_db: Database) -> None:
    async def add_then_fail() -> None:
        async with unit_of_work(outbox_db) as uow:
            await add(uow, registry, Counted(n=1), aggregate_type="counter", aggregate_id="c-1")
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()
    assert await rows(outbox_db) == []
    broker = RecordingBroker()
    assert await Relay(outbox_db, broker).run_once() == 0
    assert broker.published == []


async def test_outbox_row_commits_with_business_rows(outbox_db: Database) -> None:
    async with outbox_db.transaction() as connection:
        await connection.execute(text("CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER)"))
    async with unit_of_work(outbox_db) as uow:
        await uow.execute(text("INSERT INTO counters VALUES ('c-1', 1)"))
        await add(uow, registry, Counted(n=1), aggregate_type="counter", aggregate_id="c-1")

    async def update_then_fail() -> None:
        async with unit_of_work(outbox_db) as uow:
            await uow.execute(text("UPDATE counters SET n = 2"))
            await add(uow, registry, Counted(n=2), aggregate_type="counter", aggregate_id="c-1")
            raise Boom

    with pytest.raises(Boom):
        await update_then_fail()
    assert [json.loads(str(row["payload"]))["data"]["n"] for row in await rows(outbox_db)] == [1]


async def test_add_envelopes_keeps_order_and_topic(outbox_db: Database) -> None:
    envelopes = [
        registry.envelope_for(Counted(n=n), source="orders", aggregate_id="c", aggregate_type="k")
        for n in range(5)
    ]
    async with unit_of_work(outbox_db) as uow:
        await add_envelopes(uow, envelopes, topic="custom.topic", headers={"x-extra": "1"})
        await add_envelopes(uow, [])
    stored = await rows(outbox_db)
    assert [row["id"] for row in stored] == [envelope.id for envelope in envelopes]
    assert {row["topic"] for row in stored} == {"custom.topic"}
    assert all(isinstance(r["headers"], dict) and r["headers"]["x-extra"] == "1" for r in stored)


async def test_envelope_without_aggregate_is_its_own(outbox_db: Database) -> None:
    envelope = registry.envelope_for(Counted(n=1), source="orders")
    async with unit_of_work(outbox_db) as uow:
        await add_envelopes(uow, [envelope])
    [row] = await rows(outbox_db)
    assert (row["aggregatetype"], row["aggregateid"]) == ("test.Counted", envelope.id)


async def test_caused_by_carries_the_flow(outbox_db: Database) -> None:
    cause = registry.envelope_for(Counted(n=0), source="elsewhere")
    async with unit_of_work(outbox_db) as uow:
        effect = await add(
            uow, registry, Counted(n=1), aggregate_type="k", aggregate_id="c", caused_by=cause
        )
    assert (effect.correlationid, effect.causationid) == (cause.id, cause.id)


@pytest.mark.parametrize("topic", ["a..b", ".a", "orders.*", "orders.#", "has space", "a.>"])
async def test_unpublishable_topic_is_refused_at_write_time(
    outbox_db: Database, topic: str
) -> None:
    envelope = registry.envelope_for(Counted(n=1), source="orders")
    async with unit_of_work(outbox_db) as uow:
        with pytest.raises(ValueError, match="topic"):
            await add_envelopes(uow, [envelope], topic=topic)
