"""How a saga is declared: steps, their replies, compensations, retries and deadlines.

A definition is plain data; it does no I/O and knows no broker. Commands and
replies are named by their message type (``rooms.ReserveRoom``), so a definition
is independent of how messages travel::

    booking = SagaDefinition(
        name="hotel.booking",
        version=1,
        steps=(
            Step("reserve_room", command="rooms.ReserveRoom", data=lambda d: {...},
                 success=("rooms.RoomReserved",), failure=("rooms.RoomUnavailable",),
                 compensation=Compensation("rooms.ReleaseRoom", data=lambda d: {...},
                                           success=("rooms.RoomReleased",)),
                 deadline=30.0),
            Parallel(Step(...), Step(...)),   # fork, then join on both replies
            Step("process_payment", ..., pivot=True),
            Step("confirm_booking", ...),     # after the pivot: retried until it succeeds
        ),
    )

Every step has one of the three roles of Garcia-Molina and Salem's sagas as
Richardson classifies them (:class:`StepRole`):

* **compensatable**: the steps before the pivot. Each declares a
  :class:`Compensation` (or is ``read_only``: it changes nothing), else the
  definition is refused. The saga may still fail, and then they are undone.
* **pivot**: the go/no-go step (``pivot=True``; without one, the last step is the
  pivot, as in the original sagas where the last transaction is never undone).
  Once it succeeded the saga always completes. If its outcome stays unknown it
  is compensated like the steps before it when it has a compensation, and re-sent
  until a participant answers when it has none.
* **retriable**: the steps after the pivot. They are never compensated, so they
  may declare neither a compensation nor a ``failure`` reply; transient failures
  and missed deadlines are retried with backoff until they succeed.

A deadline means the outcome is unknown, never that the step failed: the engine
re-sends the same command (same message id: the participant's inbox drops it if
it already took it) for ``retry.max_attempts`` sends, and then compensates the
step too. A compensation must therefore be safe whether or not its action took
effect (release what this order holds, if anything) and whether it arrives once
or twice, and the participant keeps a tombstone so an action arriving after its
compensation is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tidings.errors import ConfigurationError

SagaData = dict[str, Any]
DataFactory = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Builds a command's data from the saga's data."""
DataMerge = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]]
"""Folds a success reply's data into the saga's data: ``(saga data, reply data) -> saga data``."""
DataUpcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns saga data written by version ``n`` into data version ``n + 1`` reads."""

_STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _empty(_data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


class StepRole(StrEnum):
    """Where a step stands relative to the saga's pivot (Richardson's classification)."""

    COMPENSATABLE = "compensatable"
    PIVOT = "pivot"
    RETRIABLE = "retriable"


@dataclass(frozen=True)
class RetryPolicy:
    """Sends of a step's command: after a transient failure (a new attempt) or a
    missed deadline (the same command again, same message id).

    ``max_attempts`` counts the first send, so 1 means "never send again". The
    delay before attempt ``n + 1`` is ``backoff * multiplier ** (n - 1)``,
    capped at ``max_backoff`` seconds.
    """

    max_attempts: int = 1
    backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("RetryPolicy.max_attempts counts the first try: at least 1")
        if self.backoff < 0 or self.multiplier < 1 or self.max_backoff < 0:
            raise ConfigurationError("RetryPolicy delays must be non-negative and not shrink")

    def allows_another(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay(self, attempts_made: int) -> float:
        """Seconds to wait after ``attempts_made`` attempts before the next one."""
        exponent = max(attempts_made - 1, 0)
        return float(min(self.backoff * self.multiplier**exponent, self.max_backoff))


NO_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Compensation:
    """The command that undoes a step. It must be idempotent at the participant:
    it may be sent again after a timeout, and it may arrive for a step whose
    action never took effect (a step that timed out is compensated too)."""

    command: str
    data: DataFactory = _empty
    success: tuple[str, ...] = ()
    failure: tuple[str, ...] = ()
    """Replies that mean "not undone (yet)": retried under ``retry``, then dead-lettered."""
    retry: RetryPolicy = RetryPolicy(max_attempts=3)
    deadline: float | None = None
    """Seconds to wait for a reply once the command left the outbox; a missed
    deadline counts as a failed attempt (a success to any attempt still counts)."""


@dataclass(frozen=True)
class Step:
    """One command to one participant, and what its replies mean.

    * a ``success`` reply completes the step (``merge`` folds its data into the saga's);
      one that arrives after the saga started compensating is compensated too;
    * a ``transient`` reply is retried under ``retry``; when attempts run out it
      counts as a failure (after the pivot attempts never run out);
    * a ``failure`` reply fails the step: the participant did nothing, so the step
      itself is not compensated, but every completed step before it is;
    * no reply within ``deadline`` seconds (counted while the command is out of
      the orchestrator's outbox) leaves the outcome unknown: the same command is
      sent again while ``retry`` allows, then the step gives up and, because its
      effect is unknown, *is* compensated (after the pivot it never gives up).

    ``pivot`` marks the go/no-go step; ``read_only`` a step before it that changes
    nothing at its participant and so needs no compensation.
    """

    name: str
    command: str
    data: DataFactory = _empty
    success: tuple[str, ...] = ()
    failure: tuple[str, ...] = ()
    transient: tuple[str, ...] = ()
    compensation: Compensation | None = None
    retry: RetryPolicy = NO_RETRY
    deadline: float | None = None
    merge: DataMerge | None = None
    pivot: bool = False
    read_only: bool = False

    def __post_init__(self) -> None:
        if not _STEP_NAME.match(self.name):
            raise ConfigurationError(
                f"step name {self.name!r}: use letters, digits and underscores (it goes into ids)"
            )
        if not self.success:
            raise ConfigurationError(f"step {self.name}: declare at least one success reply")
        overlap = (
            set(self.success) & set(self.failure)
            | set(self.success) & set(self.transient)
            | set(self.failure) & set(self.transient)
        )
        if overlap:
            raise ConfigurationError(f"step {self.name}: {sorted(overlap)} named twice")
        if self.read_only and self.compensation is not None:
            raise ConfigurationError(
                f"step {self.name}: a read_only step changes nothing, so it has no compensation"
            )
        if self.deadline is not None and self.deadline <= 0:
            raise ConfigurationError(f"step {self.name}: deadline must be positive seconds")


@dataclass(frozen=True, init=False)
class Parallel:
    """Steps sent together (fork) whose replies are all awaited (join)."""

    steps: tuple[Step, ...]

    def __init__(self, *steps: Step) -> None:
        if len(steps) < 2:
            raise ConfigurationError("Parallel needs at least two steps")
        object.__setattr__(self, "steps", tuple(steps))


@dataclass(frozen=True)
class SagaDefinition:
    """A named, versioned saga: groups of steps run in order.

    ``upcasters[n]`` turns data of an instance started on version ``n`` into
    data of version ``n + 1``. An instance on an older version finishes on that
    version if the engine still knows its definition, else it is upcast.
    """

    name: str
    steps: tuple[Step | Parallel, ...]
    version: int = 1
    upcasters: Mapping[int, DataUpcaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [step.name for group in self.groups for step in group]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigurationError(f"saga {self.name}: step names repeat: {duplicates}")
        if self.version < 1:
            raise ConfigurationError(f"saga {self.name}: version starts at 1")
        self._check_roles()

    def _check_roles(self) -> None:
        """Refuse a definition whose steps break the saga's roles (see the module doc)."""
        pivots = [step.name for step in self.all_steps if step.pivot]
        if len(pivots) > 1:
            raise ConfigurationError(f"saga {self.name}: one pivot at most, not {pivots}")
        for group in self.groups:
            if len(group) > 1 and any(step.pivot for step in group):
                raise ConfigurationError(
                    f"saga {self.name}: the pivot cannot run in parallel with other steps "
                    f"({', '.join(step.name for step in group)}): its success alone decides"
                )
        pivot = self.pivot_index
        for index, group in enumerate(self.groups):
            for step in group:
                if index < pivot and step.compensation is None and not step.read_only:
                    raise ConfigurationError(
                        f"saga {self.name}: step {step.name} comes before the pivot "
                        f"({self._pivot_name}) and has no compensation; declare one (it must "
                        "be safe whether or not the action took effect) or mark the step "
                        "read_only if it changes nothing"
                    )
                if index > pivot and step.compensation is not None:
                    raise ConfigurationError(
                        f"saga {self.name}: step {step.name} comes after the pivot "
                        f"({self._pivot_name}) and is never compensated; drop its compensation "
                        "or move the pivot"
                    )
                if index > pivot and step.failure:
                    raise ConfigurationError(
                        f"saga {self.name}: step {step.name} comes after the pivot "
                        f"({self._pivot_name}), so it is retried until it succeeds and cannot "
                        f"be refused; declare {list(step.failure)} as transient or move the pivot"
                    )

    @property
    def pivot_index(self) -> int:
        """The group of the pivot: the declared one, else the last group when it is a
        single step; ``len(groups)`` (no pivot: every step compensatable) otherwise."""
        for index, group in enumerate(self.groups):
            if any(step.pivot for step in group):
                return index
        if self.groups and len(self.groups[-1]) == 1:
            return len(self.groups) - 1
        return len(self.groups)

    @property
    def _pivot_name(self) -> str:
        index = self.pivot_index
        return self.groups[index][0].name if index < len(self.groups) else "none"

    def role(self, name: str) -> StepRole:
        """Whether step ``name`` is compensatable, the pivot or retriable."""
        index, pivot = self.group_of(name), self.pivot_index
        if index < pivot:
            return StepRole.COMPENSATABLE
        return StepRole.PIVOT if index == pivot else StepRole.RETRIABLE

    @property
    def groups(self) -> tuple[tuple[Step, ...], ...]:
        """The steps as groups: a single step is a group of one."""
        return tuple(item.steps if isinstance(item, Parallel) else (item,) for item in self.steps)

    @property
    def all_steps(self) -> tuple[Step, ...]:
        return tuple(step for group in self.groups for step in group)

    def step(self, name: str) -> Step:
        for step in self.all_steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def group_of(self, name: str) -> int:
        for index, group in enumerate(self.groups):
            if any(step.name == name for step in group):
                return index
        raise KeyError(name)

    @property
    def reply_types(self) -> frozenset[str]:
        """Every message type a reply to this saga may carry."""
        types: set[str] = set()
        for step in self.all_steps:
            types.update(step.success, step.failure, step.transient)
            if step.compensation is not None:
                types.update(step.compensation.success, step.compensation.failure)
        return frozenset(types)

    @property
    def command_types(self) -> frozenset[str]:
        types: set[str] = set()
        for step in self.all_steps:
            types.add(step.command)
            if step.compensation is not None:
                types.add(step.compensation.command)
        return frozenset(types)
