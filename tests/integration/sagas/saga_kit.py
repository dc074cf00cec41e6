"""Helpers for the saga engine tests: migrations, a settable clock, scripted participants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import MetaData

from tidings.migrations import runner
from tidings.sagas import (
    Compensation,
    Parallel,
    Reply,
    RetryPolicy,
    SagaCommand,
    SagaDefinition,
    SagaEngine,
    Step,
)
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.system import Service

MIGRATIONS = Path(__file__).parent / "saga_test_migrations"


def saga_service(name: str) -> Service:
    return Service(name=name, metadata=MetaData(), migrations=MIGRATIONS, library_tables=())


async def migrate(database: Database) -> None:
    await runner.upgrade(database, saga_service(database.service))


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def step(name: str, *, deadline: float | None = 30.0, undo: bool = True) -> Step:
    title = name.title()
    return Step(
        name,
        command=f"t.Do{title}",
        data=lambda d: {"order": d["order"]},
        success=(f"t.{title}Done",),
        failure=(f"t.{title}Refused",),
        transient=(f"t.{title}Busy",),
        retry=RetryPolicy(max_attempts=3, backoff=1.0),
        deadline=deadline,
        compensation=Compensation(
            f"t.Undo{title}",
            data=lambda d: {"order": d["order"]},
            success=(f"t.{title}Undone",),
            failure=(f"t.{title}UndoFailed",),
            retry=RetryPolicy(max_attempts=2, backoff=1.0),
            deadline=10.0,
        )
        if undo
        else None,
    )


def after_pivot(name: str, *, deadline: float = 30.0) -> Step:
    """A retriable step: no compensation, no refusal; retried until it succeeds."""
    title = name.title()
    return Step(
        name,
        command=f"t.Do{title}",
        data=lambda d: {"order": d["order"]},
        success=(f"t.{title}Done",),
        transient=(f"t.{title}Busy",),
        retry=RetryPolicy(max_attempts=2, backoff=1.0, max_backoff=2.0),
        deadline=deadline,
    )


def pivoted() -> SagaDefinition:
    """reserve (compensatable), charge (the pivot), ship (retriable)."""
    charge = replace(step("charge"), pivot=True)
    return SagaDefinition(name="test.pivoted", steps=(step("reserve"), charge, after_pivot("ship")))


def three_steps(version: int = 1, **options: object) -> SagaDefinition:
    return SagaDefinition(
        name="test.three",
        version=version,
        steps=(step("reserve"), step("charge"), step("ship", undo=False)),
        **options,  # type: ignore[arg-type]
    )


def forked() -> SagaDefinition:
    return SagaDefinition(
        name="test.forked",
        steps=(step("reserve"), Parallel(step("charge"), step("notify")), step("ship", undo=False)),
    )


def answer(command: SagaCommand, outcome: str = "ok", *, message_id: str | None = None) -> Reply:
    """The reply a participant gives: ``ok``, ``refused``, ``busy``, ``undo_failed``."""
    title = command.step.title()
    if command.kind.value == "action":
        suffix = {"ok": "Done", "refused": "Refused", "busy": "Busy"}[outcome]
    else:
        suffix = {"ok": "Undone", "undo_failed": "UndoFailed"}[outcome]
    return Reply(
        saga_id=command.saga_id,
        step=command.step,
        kind=command.kind,
        attempt=command.attempt,
        type=f"t.{title}{suffix}",
        message_id=f"reply:{command.message_id}:{outcome}",
    )


async def deliver(engine: SagaEngine, reply: Reply) -> None:
    async with unit_of_work(engine.database) as uow:
        await engine.handle_reply(uow, reply)


Outcome = Callable[[SagaCommand], str]
