"""The engine on real databases: persistence, timers across restarts, duplicates,
late replies, dead-lettered compensations, versioning, crash recovery."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from saga_kit import Clock, answer, deliver, forked, migrate, three_steps
from sqlalchemy import select, update

from tidings.errors import AppendOnlyViolation, ConfigurationError, NotFound
from tidings.messages import Command, MessageRegistry
from tidings.outbox import outbox
from tidings.sagas import OutboxCommandSender, RecordingCommandSender, SagaEngine, SagaStatus
from tidings.sagas.status import count_by_status, get_saga, list_sagas, saga_timeline
from tidings.sagas.tables import saga_steps
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


@pytest.fixture
async def orchestrator(database: Database) -> Database:
    await migrate(database)
    return database


def engine_on(database: Database, clock: Clock, *definitions: object) -> SagaEngine:
    chosen = definitions or (three_steps(),)
    return SagaEngine(database, chosen, RecordingCommandSender(), clock=clock)  # type: ignore[arg-type]


def sent(engine: SagaEngine) -> RecordingCommandSender:
    assert isinstance(engine.sender, RecordingCommandSender)
    return engine.sender


async def start(engine: SagaEngine, order: str = "o-1") -> str:
    async with unit_of_work(engine.database) as uow:
        return await engine.start(uow, "test.three", {"order": order}, correlation_id=f"c-{order}")


async def test_a_saga_completes_and_its_timeline_is_queryable(orchestrator: Database) -> None:
    engine = engine_on(orchestrator, Clock())
    saga_id = await start(engine)
    for _ in range(3):
        await deliver(engine, answer(sent(engine).sent[-1]))
    detail = await get_saga(orchestrator, saga_id)
    assert detail.status is SagaStatus.COMPLETED
    assert detail.summary.correlation_id == "c-o-1"
    assert [c.type for c in sent(engine).sent] == ["t.DoReserve", "t.DoCharge", "t.DoShip"]
    events = [record.event for record in detail.timeline]
    assert events[0] == "started"
    assert events[-1] == "completed"
    assert events.count("succeeded") == 3
    assert detail.summary.finished_at is not None
    assert (await list_sagas(orchestrator, status="completed"))[0].id == saga_id
    assert await count_by_status(orchestrator) == {"completed": 1}


async def test_the_step_log_is_append_only(orchestrator: Database) -> None:
    engine = engine_on(orchestrator, Clock())
    await start(engine)
    with pytest.raises(AppendOnlyViolation):
        async with unit_of_work(orchestrator) as uow:
            await uow.execute(update(saga_steps).values(event="tampered"))


async def test_duplicates_are_ignored_and_a_late_success_is_compensated(
    orchestrator: Database,
) -> None:
    clock = Clock()
    engine = engine_on(orchestrator, clock)
    saga_id = await start(engine)
    reserve = sent(engine).sent[-1]
    await deliver(engine, answer(reserve))
    await deliver(engine, answer(reserve))  # duplicate
    charge = sent(engine).sent[-1]
    for _ in range(2):  # charge's deadline passes: the same command goes again
        clock.now += 31
        assert await engine.fire_due() == 1
        again = sent(engine).sent[-1]
        assert (again.message_id, again.resend) == (charge.message_id, True)
    clock.now += 31  # its three sends are spent: it gives up, and is compensated too
    assert await engine.fire_due() == 1
    assert [c.type for c in sent(engine).sent[-1:]] == ["t.UndoCharge"]
    await deliver(engine, answer(charge))  # late: the step had given up
    detail = await get_saga(orchestrator, saga_id)
    assert detail.status is SagaStatus.COMPENSATING
    assert detail.steps["charge"]["status"] == "succeeded"
    ignored = [r for r in detail.timeline if r.event == "reply_ignored"]
    assert [r.step for r in ignored] == ["reserve"]
    assert [r.step for r in detail.timeline if r.event == "late_success"] == ["charge"]
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert sent(engine).sent[-1].type == "t.UndoReserve"
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert (await get_saga(orchestrator, saga_id)).status is SagaStatus.COMPENSATED


async def test_deadlines_fire_after_a_restart(orchestrator: Database, tmp_path: object) -> None:
    clock = Clock()
    first = engine_on(orchestrator, clock)
    saga_id = await start(first)
    reserve = sent(first).sent[-1]
    await orchestrator.close()  # the orchestrator process dies
    clock.now += 31
    restarted_db = Database(orchestrator.service, orchestrator.url)
    try:
        second = engine_on(restarted_db, clock)
        assert await second.next_deadline() is not None
        assert await second.fire_due() == 1
        assert await second.fire_due() == 0
        # reserve's outcome is unknown: the restarted engine sends the same command again.
        assert [(c.type, c.message_id) for c in sent(second).sent] == [
            ("t.DoReserve", reserve.message_id)
        ]
        await deliver(second, answer(reserve))
        detail = await get_saga(restarted_db, saga_id)
        assert detail.status is SagaStatus.RUNNING
        assert detail.steps["reserve"]["sends"] == 2
        assert sent(second).sent[-1].type == "t.DoCharge"
    finally:
        await restarted_db.close()


async def test_transient_failures_retry_through_the_deadline_worker(
    orchestrator: Database,
) -> None:
    clock = Clock()
    engine = engine_on(orchestrator, clock)
    saga_id = await start(engine)
    await deliver(engine, answer(sent(engine).sent[-1]))
    await deliver(engine, answer(sent(engine).sent[-1], "busy"))
    assert await engine.fire_due() == 0  # backoff not over yet
    clock.now += 1.0
    assert await engine.fire_due() == 1
    retry = sent(engine).sent[-1]
    assert (retry.step, retry.attempt) == ("charge", 2)
    await deliver(engine, answer(retry))
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert (await get_saga(orchestrator, saga_id)).status is SagaStatus.COMPLETED


async def test_a_compensation_that_keeps_failing_is_dead_lettered_until_retried(
    orchestrator: Database,
) -> None:
    clock = Clock()
    engine = engine_on(orchestrator, clock)
    saga_id = await start(engine)
    await deliver(engine, answer(sent(engine).sent[-1]))
    await deliver(engine, answer(sent(engine).sent[-1], "refused"))
    await deliver(engine, answer(sent(engine).sent[-1], "undo_failed"))
    clock.now += 1.0
    await engine.fire_due()
    await deliver(engine, answer(sent(engine).sent[-1], "undo_failed"))
    detail = await get_saga(orchestrator, saga_id)
    assert detail.status is SagaStatus.COMPENSATION_FAILED
    assert any(record.event == "dead_lettered" for record in detail.timeline)
    assert (await list_sagas(orchestrator, status=SagaStatus.COMPENSATION_FAILED))[0].id == saga_id

    moved = await engine.retry(saga_id, by="alice")
    assert moved.state.status is SagaStatus.COMPENSATING
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert (await get_saga(orchestrator, saga_id)).status is SagaStatus.COMPENSATED
    undo_ids = [c.message_id for c in sent(engine).sent if c.type == "t.UndoReserve"]
    assert len(undo_ids) == len(set(undo_ids)) == 3


async def test_retrying_an_unknown_saga_is_not_found(orchestrator: Database) -> None:
    with pytest.raises(NotFound):
        await engine_on(orchestrator, Clock()).retry("nope")
    with pytest.raises(NotFound):
        await get_saga(orchestrator, "nope")


async def test_a_reply_for_an_unknown_saga_is_recorded(orchestrator: Database) -> None:
    engine = engine_on(orchestrator, Clock())
    saga_id = await start(engine)
    stray = answer(sent(engine).sent[-1])
    stray = type(stray)(**{**stray.__dict__, "saga_id": "ghost"})
    await deliver(engine, stray)
    assert [r.event for r in await saga_timeline(orchestrator, "ghost")] == ["reply_ignored"]
    assert (await get_saga(orchestrator, saga_id)).status is SagaStatus.RUNNING


async def test_instances_finish_on_their_version_or_are_upcast(orchestrator: Database) -> None:
    clock = Clock()
    old = engine_on(orchestrator, clock, three_steps(version=1))
    kept = await start(old, "o-kept")
    upcast = await start(old, "o-upcast")

    def add_currency(data: dict[str, object]) -> dict[str, object]:
        return {**data, "currency": "EUR"}

    v2 = three_steps(version=2, upcasters={1: add_currency})
    both = engine_on(orchestrator, clock, three_steps(version=1), v2)
    await deliver(both, answer(sent(old).sent[0]))
    assert (await get_saga(orchestrator, kept)).summary.version == 1

    only_new = engine_on(orchestrator, clock, v2)
    await deliver(only_new, answer(sent(old).sent[1]))
    detail = await get_saga(orchestrator, upcast)
    assert detail.summary.version == 2
    assert detail.data["currency"] == "EUR"
    assert any(record.event == "upcast" for record in detail.timeline)

    no_upcaster = engine_on(orchestrator, clock, three_steps(version=3))
    with pytest.raises(ConfigurationError):
        await deliver(no_upcaster, answer(sent(both).sent[-1]))
    assert (await get_saga(orchestrator, kept)).summary.version == 1  # untouched
    # Its deadline worker neither crashes nor spins on the instances it cannot run.
    clock.now += 31
    assert await no_upcaster.fire_due() == 2
    assert await no_upcaster.fire_due() == 0
    untouched = await get_saga(orchestrator, kept)
    assert untouched.status is SagaStatus.RUNNING
    assert untouched.summary.version == 1
    assert untouched.summary.deadline_at is not None
    assert untouched.summary.deadline_at.timestamp() > clock.now


async def test_parallel_steps_join_and_compensate_the_branch_that_succeeded(
    orchestrator: Database,
) -> None:
    engine = engine_on(orchestrator, Clock(), forked())
    async with unit_of_work(orchestrator) as uow:
        saga_id = await engine.start(uow, "test.forked", {"order": "o-9"})
    await deliver(engine, answer(sent(engine).sent[-1]))
    charge, notify = sent(engine).sent[-2:]
    assert {charge.step, notify.step} == {"charge", "notify"}
    await deliver(engine, answer(charge))
    await deliver(engine, answer(notify, "refused"))
    assert sent(engine).sent[-1].type == "t.UndoCharge"
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert sent(engine).sent[-1].type == "t.UndoReserve"
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert (await get_saga(orchestrator, saga_id)).status is SagaStatus.COMPENSATED


def metric(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


async def test_metrics_count_started_and_finished_sagas(orchestrator: Database) -> None:
    labels = {"saga": "test.three"}
    started = metric("tidings_sagas_started_total", **labels)
    completed = metric("tidings_sagas_completed_total", **labels)
    compensated = metric("tidings_sagas_compensated_total", **labels)
    durations = metric("tidings_saga_duration_seconds_count", **labels, status="completed")
    engine = engine_on(orchestrator, Clock())
    await start(engine, "o-1")
    for _ in range(3):
        await deliver(engine, answer(sent(engine).sent[-1]))
    await start(engine, "o-2")
    await deliver(engine, answer(sent(engine).sent[-1]))
    await deliver(engine, answer(sent(engine).sent[-1], "refused"))
    await deliver(engine, answer(sent(engine).sent[-1]))
    assert metric("tidings_sagas_started_total", **labels) == started + 2
    assert metric("tidings_sagas_completed_total", **labels) == completed + 1
    assert metric("tidings_sagas_compensated_total", **labels) == compensated + 1
    assert (
        metric("tidings_saga_duration_seconds_count", **labels, status="completed") == durations + 1
    )


async def test_commands_go_to_the_outbox_in_the_transition_and_roll_back_with_it(
    orchestrator: Database,
) -> None:
    registry = MessageRegistry()

    @registry.register("t.DoReserve")
    class DoReserve(Command):
        order: str

    engine = SagaEngine(orchestrator, [three_steps()], OutboxCommandSender(registry), clock=Clock())

    async def start_then_fail() -> None:
        async with unit_of_work(orchestrator) as uow:
            await engine.start(uow, "test.three", {"order": "o-1"})
            raise RuntimeError("the caller's own work failed")

    with pytest.raises(RuntimeError):
        await start_then_fail()
    saga_id = await start(engine)
    async with orchestrator.connect() as connection:
        rows = (await connection.execute(select(outbox.c.type, outbox.c.aggregateid))).all()
    assert [tuple(row) for row in rows] == [("t.DoReserve", saga_id)]
    assert len(await list_sagas(orchestrator)) == 1
