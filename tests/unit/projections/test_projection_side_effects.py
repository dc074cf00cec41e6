"""Read-your-writes, publishing suppressed while replaying, and the inbox adapter."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from tidings.eventstore.base import RecordedEvent
from tidings.projections import (
    ProjectionContext,
    ProjectionRunner,
    StaleRead,
    projection,
    projection_handler,
    query_at,
    rebuild,
    wait_for_position,
)
from tidings.storage.database import Database
from tidings.storage.uow import UnitOfWork, unit_of_work
from tidings.testing.projections import (
    ListEventStore,
    append_added,
    create_tables,
    read_tallies,
    tallies,
    tally_projection,
)

metadata = MetaData()
greetings = Table(
    "greetings",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("times", Integer, nullable=False),
)


@dataclass
class Outbox:
    sent: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, uow: UnitOfWork, message: Any, **options: Any) -> None:
        self.sent.append((message, options))


def greeting_projection() -> Any:
    builder = projection("greetings", [greetings])

    @builder.on("Greeted")
    async def greeted(ctx: ProjectionContext, event: RecordedEvent) -> None:
        table = ctx.table(greetings)
        ctx.insert(table, {"name": event.data["name"], "times": 1})
        await ctx.publish({"welcome": event.data["name"]}, aggregate_id=event.stream_id)

    return builder.build()


@pytest.fixture
async def db(make_database) -> Database:  # type: ignore[no-untyped-def]
    database: Database = await make_database("sqlite")
    await create_tables(database, tallies, greetings)
    return database


async def test_a_query_waits_for_the_position_its_command_wrote(db: Database) -> None:
    store = ListEventStore()
    runner = ProjectionRunner(db, store, tally_projection(), poll_interval=0.05)
    async with runner.running():
        written = await append_added(store, "mine", [4, 5])  # the command's result
        runner.wake()
        view, fresh = await query_at(
            db, "tallies", lambda: read_tallies(db), at_least=written.last_position, timeout=5
        )
    assert fresh
    assert view == {"mine": (2, 9)}


async def test_waiting_for_an_unreached_position_gives_up_at_the_timeout(db: Database) -> None:
    store = ListEventStore()
    await append_added(store, "x", [1])
    await ProjectionRunner(db, store, tally_projection()).catch_up()
    written = await append_added(store, "x", [1])  # no runner follows any more

    started = time.monotonic()
    reached = await wait_for_position(db, "tallies", written.last_position, timeout=0.3)
    waited = time.monotonic() - started

    assert not reached
    assert 0.25 <= waited < 2
    view, fresh = await query_at(
        db, "tallies", lambda: read_tallies(db), at_least=written.last_position, timeout=0.1
    )
    assert (view, fresh) == ({"x": (1, 1)}, False)
    with pytest.raises(StaleRead):
        await query_at(
            db, "tallies", lambda: read_tallies(db), at_least=2, timeout=0.05, strict=True
        )


async def test_a_rebuild_replays_without_publishing_again(db: Database) -> None:
    store = ListEventStore()
    for name in ("ada", "bob", "cy"):
        await store.append(name, [_greeted(name)], expected_version=0)
    outbox = Outbox()
    await ProjectionRunner(db, store, greeting_projection(), publisher=outbox.publish).catch_up()
    assert [message for message, _ in outbox.sent] == [
        {"welcome": "ada"},
        {"welcome": "bob"},
        {"welcome": "cy"},
    ]
    assert outbox.sent[0][1] == {"aggregate_id": "ada"}

    result = await rebuild(db, store, greeting_projection())

    assert result.events == 3
    assert len(outbox.sent) == 3
    async with db.connect() as connection:
        rows = (await connection.execute(select(greetings.c.name).order_by("name"))).all()
    assert [row.name for row in rows] == ["ada", "bob", "cy"]


@dataclass(frozen=True)
class FakeEnvelope:
    id: str
    type: str
    data: dict[str, Any]
    time: datetime
    aggregateid: str | None = None
    aggregateversion: int | None = None
    schemaversion: int = 1


async def test_the_inbox_adapter_applies_consumed_events_to_the_live_tables(db: Database) -> None:
    handler = projection_handler(tally_projection())
    sent_at = datetime(2026, 1, 2, tzinfo=UTC)
    async with unit_of_work(db) as uow:
        for index, amount in enumerate((3, 4)):
            envelope = FakeEnvelope(
                f"m{index}", "Added", {"amount": amount}, sent_at, "remote-1", index + 1
            )
            await handler(uow, object(), envelope)
        await handler(uow, object(), FakeEnvelope("m9", "Unrelated", {}, sent_at))

    assert await read_tallies(db) == {"remote-1": (2, 7)}


def _greeted(name: str) -> Any:
    from tidings.eventstore.base import NewEvent

    return NewEvent("Greeted", {"name": name})
