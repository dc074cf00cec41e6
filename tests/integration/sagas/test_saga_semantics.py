"""Saga semantics on each SQL backend: roles checked at definition time and kept
with the instance, a saga past its pivot retried until it completes, commands
re-sent under the same id through the outbox, and deadlines that wait while a
command is still in the outbox."""

from __future__ import annotations

import pytest
from saga_kit import Clock, answer, deliver, migrate, pivoted, step
from sqlalchemy import select, update

from tidings.errors import ConfigurationError
from tidings.messages import Command, MessageRegistry
from tidings.outbox import outbox
from tidings.sagas import (
    Kind,
    OutboxCommandSender,
    SagaCommand,
    SagaDefinition,
    SagaEngine,
    SagaStatus,
)
from tidings.sagas.status import get_saga
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work


class Order(Command):
    order: str


def registry_for(definition: SagaDefinition) -> MessageRegistry:
    registry = MessageRegistry()
    for type_name in sorted(definition.command_types):
        registry.register(type_name)(type(type_name.replace(".", "_"), (Order,), {}))
    return registry


@pytest.fixture
async def orchestrator(database: Database) -> Database:
    await migrate(database)
    return database


async def outbox_rows(database: Database) -> list[tuple[str, str, bool]]:
    """(id, type, published) of every outbox row, in outbox order."""
    async with database.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.id, outbox.c.type, outbox.c.published_at).order_by(outbox.c.seq)
        )
        return [(row.id, row.type, row.published_at is not None) for row in rows]


async def relay(database: Database) -> None:
    """What the relay does once the broker confirmed: mark the rows published."""
    async with unit_of_work(database) as uow:
        await uow.execute(
            update(outbox).where(outbox.c.published_at.is_(None)).values(published_at=utcnow())
        )


class Sent:
    """The commands as the orchestrator's outbox holds them, read back as SagaCommands."""

    def __init__(self, engine: SagaEngine, saga_id: str) -> None:
        self.engine = engine
        self.saga_id = saga_id

    async def last(self) -> SagaCommand:
        detail = await get_saga(self.engine.database, self.saga_id)
        record = [
            r for r in detail.timeline if r.event.endswith("_sent") or r.event == "command_resent"
        ][-1]
        assert record.step is not None
        assert record.kind is not None
        assert record.attempt is not None
        return SagaCommand(
            message_id=str(record.message_id),
            type=str(record.message_type),
            data={},
            saga_id=self.saga_id,
            saga_type=detail.summary.saga_type,
            correlation_id=detail.summary.correlation_id,
            step=record.step,
            kind=Kind(record.kind),
            attempt=record.attempt,
        )


def test_a_step_before_the_pivot_without_a_compensation_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="reserve comes before the pivot"):
        SagaDefinition("test.bad", steps=(step("reserve", undo=False), step("charge")))


async def test_a_saga_past_its_pivot_is_retried_until_it_completes(orchestrator: Database) -> None:
    clock = Clock()
    definition = pivoted()
    engine = SagaEngine(
        orchestrator, [definition], OutboxCommandSender(registry_for(definition)), clock=clock
    )
    async with unit_of_work(orchestrator) as uow:
        saga_id = await engine.start(uow, "test.pivoted", {"order": "o-1"})
    sent = Sent(engine, saga_id)
    await deliver(engine, answer(await sent.last()))
    await deliver(engine, answer(await sent.last()))
    detail = await get_saga(orchestrator, saga_id)
    assert detail.past_pivot
    assert {name: step["role"] for name, step in detail.steps.items()} == {
        "reserve": "compensatable",
        "charge": "pivot",
        "ship": "retriable",
    }
    ship = await sent.last()
    # Busy, again and again: ship's policy allows two attempts, but past the pivot it never
    # gives up, and shows as retrying.
    for attempt in range(1, 5):
        assert ship.attempt == attempt
        await deliver(engine, answer(ship, "busy"))
        detail = await get_saga(orchestrator, saga_id)
        assert detail.status is SagaStatus.RUNNING
        assert detail.steps["ship"]["retrying"]
        clock.now += 2.0
        assert await engine.fire_due() == 1
        ship = await sent.last()
    # No answer at all: while the command sits in the outbox (broker down) its deadline waits.
    clock.now += 31
    assert await engine.fire_due() == 1
    detail = await get_saga(orchestrator, saga_id)
    assert detail.timeline[-1].event == "deadline_extended"
    assert detail.steps["ship"]["sends"] == 5
    # Once published, a missed deadline re-sends the same message: one row per id.
    await relay(orchestrator)
    clock.now += 31
    assert await engine.fire_due() == 1
    rows = await outbox_rows(orchestrator)
    assert [row for row in rows if row[0] == ship.message_id] == [
        (ship.message_id, "t.DoShip", False)
    ]
    assert rows[-1][0] == ship.message_id  # written anew at the end of the outbox
    clock.now += 31  # still unpublished: waits again instead of sending a second copy
    assert await engine.fire_due() == 1
    assert len(await outbox_rows(orchestrator)) == len(rows)
    await deliver(engine, answer(ship))
    final = await get_saga(orchestrator, saga_id)
    assert final.status is SagaStatus.COMPLETED
    assert not [r for r in final.timeline if r.event == "compensation_sent"]
    assert [r.event for r in final.timeline if r.step == "ship"].count("command_resent") == 1
