"""Saga definitions shared by the core's unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.sagas import Compensation, Parallel, RetryPolicy, SagaDefinition, Step


def _merge_note(data: Mapping[str, Any], reply: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**data, **reply}


def compensable(name: str, **overrides: Any) -> Step:
    options: dict[str, Any] = {
        "command": f"p.Do{name.title()}",
        "data": lambda d: {"saga": d.get("n")},
        "success": (f"p.{name.title()}Done",),
        "failure": (f"p.{name.title()}Refused",),
        "transient": (f"p.{name.title()}Busy",),
        "compensation": Compensation(
            f"p.Undo{name.title()}",
            success=(f"p.{name.title()}Undone",),
            failure=(f"p.{name.title()}UndoFailed",),
            retry=RetryPolicy(max_attempts=2, backoff=1.0),
            deadline=5.0,
        ),
        "retry": RetryPolicy(max_attempts=3, backoff=1.0),
        "deadline": 10.0,
        "merge": _merge_note,
    }
    options.update(overrides)
    return Step(name, **options)


def linear_saga() -> SagaDefinition:
    return SagaDefinition(
        name="test.linear",
        steps=(
            compensable("first"),
            compensable("second"),
            compensable("third", compensation=None),
        ),
    )


def forked_saga() -> SagaDefinition:
    return SagaDefinition(
        name="test.forked",
        steps=(
            compensable("first"),
            Parallel(compensable("left"), compensable("right")),
            compensable("last"),
        ),
    )


def retriable(name: str) -> Step:
    """A step after the pivot: no compensation, no refusal, only success or busy."""
    return Step(
        name,
        command=f"p.Do{name.title()}",
        success=(f"p.{name.title()}Done",),
        transient=(f"p.{name.title()}Busy",),
        retry=RetryPolicy(max_attempts=2, backoff=1.0, max_backoff=4.0),
        deadline=10.0,
    )


def pivoted_saga(*, pivot_undo: bool = True) -> SagaDefinition:
    """reserve (compensatable), pay (the pivot), ship and mail (retriable)."""
    pay = compensable("pay", pivot=True)
    if not pivot_undo:
        pay = compensable("pay", pivot=True, compensation=None)
    return SagaDefinition(
        name="test.pivoted",
        steps=(compensable("reserve"), pay, retriable("ship"), retriable("mail")),
    )
