"""A saga instance's state: plain data the pure core reads and writes, stored as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class SagaStatus(StrEnum):
    """Where a saga stands. ``completed``, ``compensated`` and ``failed`` are final;
    ``compensation_failed`` rests until an operator retries it."""

    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"
    """Failed before anything needed undoing (the first step refused)."""
    COMPENSATION_FAILED = "compensation_failed"


FINAL_STATUSES = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED})
ACTIVE_STATUSES = frozenset({SagaStatus.RUNNING, SagaStatus.COMPENSATING})


class StepStatus(StrEnum):
    """The outcome of a step's own command."""

    PENDING = "pending"
    RUNNING = "running"
    """Sent; awaiting a reply or the deadline."""
    RETRY_WAIT = "retry_wait"
    """A transient failure; the next attempt goes out when the timer fires."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The participant refused: nothing to undo."""
    TIMED_OUT = "timed_out"
    """No reply after every send: the effect is unknown, so it is compensated."""
    CANCELLED = "cancelled"
    """Waiting for a retry when the saga failed elsewhere: never resent."""


class CompensationStatus(StrEnum):
    RUNNING = "running"
    RETRY_WAIT = "retry_wait"
    DONE = "done"
    FAILED = "failed"


NEEDS_UNDO = frozenset({StepStatus.SUCCEEDED, StepStatus.TIMED_OUT})
IN_FLIGHT = frozenset({StepStatus.RUNNING, StepStatus.RETRY_WAIT})


@dataclass
class StepState:
    status: StepStatus = StepStatus.PENDING
    role: str = ""
    """``compensatable``, ``pivot`` or ``retriable``: the step's :class:`StepRole`."""
    attempt: int = 0
    """Attempts of the step's command so far; a new attempt (a new message id) follows
    a transient failure."""
    sends: int = 0
    """Sends of the step's command so far: attempts plus re-sends of the same message
    after a missed deadline."""
    compensation: CompensationStatus | None = None
    compensation_attempt: int = 0
    compensation_budget_base: int = 0
    """``compensation_attempt`` when an operator last retried: the retry budget restarts there."""
    timer_at: float | None = None
    """Epoch seconds of the step's pending deadline or retry timer."""
    error: str | None = None

    @property
    def retrying(self) -> bool:
        """Waiting to retry, or in flight after more than one send: what ``tidings saga
        show`` flags, so a step that keeps trying is not mistaken for a stuck one."""
        if self.status is StepStatus.RETRY_WAIT:
            return True
        return self.status is StepStatus.RUNNING and self.sends > 1

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["status"] = self.status.value
        raw["compensation"] = self.compensation.value if self.compensation else None
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StepState:
        compensation = raw.get("compensation")
        return cls(
            status=StepStatus(raw["status"]),
            role=str(raw.get("role", "")),
            attempt=int(raw.get("attempt", 0)),
            sends=int(raw.get("sends", raw.get("attempt", 0))),
            compensation=CompensationStatus(compensation) if compensation else None,
            compensation_attempt=int(raw.get("compensation_attempt", 0)),
            compensation_budget_base=int(raw.get("compensation_budget_base", 0)),
            timer_at=raw.get("timer_at"),
            error=raw.get("error"),
        )


@dataclass
class SagaState:
    """Everything the core needs to decide the next move of one saga instance."""

    saga_id: str
    saga_type: str
    version: int
    correlation_id: str
    status: SagaStatus
    data: dict[str, Any]
    steps: dict[str, StepState] = field(default_factory=dict)
    group: int = 0
    """Index of the group of steps being run (or the one that failed)."""
    started_at: float = 0.0
    finished_at: float | None = None
    reason: str | None = None
    """Why the saga left ``running``."""
    past_pivot: bool = False
    """The pivot succeeded: from here on the saga only goes forward, to ``completed``."""

    @property
    def next_timer(self) -> float | None:
        timers = [step.timer_at for step in self.steps.values() if step.timer_at is not None]
        return min(timers) if timers else None

    @property
    def current_steps(self) -> list[str]:
        """Steps whose command or compensation is in flight."""
        return [
            name
            for name, step in self.steps.items()
            if step.status in IN_FLIGHT
            or step.compensation in (CompensationStatus.RUNNING, CompensationStatus.RETRY_WAIT)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "saga_id": self.saga_id,
            "saga_type": self.saga_type,
            "version": self.version,
            "correlation_id": self.correlation_id,
            "status": self.status.value,
            "data": self.data,
            "steps": {name: step.to_json() for name, step in self.steps.items()},
            "group": self.group,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "reason": self.reason,
            "past_pivot": self.past_pivot,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SagaState:
        return cls(
            saga_id=raw["saga_id"],
            saga_type=raw["saga_type"],
            version=int(raw["version"]),
            correlation_id=raw["correlation_id"],
            status=SagaStatus(raw["status"]),
            data=dict(raw["data"]),
            steps={name: StepState.from_json(step) for name, step in raw["steps"].items()},
            group=int(raw.get("group", 0)),
            started_at=float(raw.get("started_at", 0.0)),
            finished_at=raw.get("finished_at"),
            reason=raw.get("reason"),
            past_pivot=bool(raw.get("past_pivot", False)),
        )

    def copy(self) -> SagaState:
        return SagaState.from_json(self.to_json())
