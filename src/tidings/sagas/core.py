"""The pure core of orchestration: ``(state, message) -> (new state, commands)``.

Nothing here does I/O or reads a clock: the engine passes ``now`` (epoch seconds)
in, persists the new state, sends the commands through the outbox and appends
the timeline entries to the step log, all in one transaction.

Rules the core guarantees (the property tests check them):

* a deadline means the outcome is unknown, never that the step failed: the same
  command (same message id) is sent again while the step's ``retry`` allows, and
  only then does the step give up (``timed_out``) and get compensated with the
  others; a deadline whose command the engine reports still unpublished in the
  outbox is pushed forward instead (the participant cannot have answered yet);
* a success reply to any attempt of a step means its effect exists: taken while
  running, it completes the step; arriving while the saga compensates (or after
  the step gave up), the step is compensated too unless it already was;
* refusals and transient failures count only for the attempt the step awaits; a
  duplicate or otherwise stale reply changes nothing and yields a
  ``reply_ignored`` timeline entry;
* once the pivot succeeded (``past_pivot``) the saga only goes forward: steps
  after it are retried with backoff until they succeed and the saga completes;
* compensations run in reverse order of the steps, one at a time, only for steps
  whose action was sent, and after a compensation is acknowledged no command for
  it is sent again;
* every instance ends ``completed``, ``compensated`` or ``failed``, or rests in
  ``compensation_failed`` until :class:`RetryRequested`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tidings.sagas.definition import SagaDefinition, Step, StepRole
from tidings.sagas.state import (
    FINAL_STATUSES,
    IN_FLIGHT,
    NEEDS_UNDO,
    CompensationStatus,
    SagaState,
    SagaStatus,
    StepState,
    StepStatus,
)


class Kind(StrEnum):
    ACTION = "action"
    COMPENSATION = "compensation"


_COMMAND_IDS = uuid.UUID("6f1d2a3c-5b7e-4c11-9a0d-7c6b1f5e2d90")


def command_id(saga_id: str, step: str, kind: Kind, attempt: int) -> str:
    """The id of one attempt of one command: a UUID derived from what it is, so the
    same transition always yields the same id (the step log maps it back)."""
    return str(uuid.uuid5(_COMMAND_IDS, f"{saga_id}/{step}/{kind.value}/{attempt}"))


@dataclass(frozen=True)
class SagaCommand:
    """A command the saga sends; the engine hands it to a :class:`CommandSender`."""

    message_id: str
    type: str
    data: Mapping[str, Any]
    saga_id: str
    saga_type: str
    correlation_id: str
    step: str
    kind: Kind
    attempt: int
    causation_id: str | None = None
    """The message (a reply) whose transition sent this command, if any."""
    resend: bool = False
    """The same command again after a missed deadline: same ``message_id``, so a
    participant that already took it drops it in its inbox."""


@dataclass(frozen=True)
class Reply:
    """A participant's answer to one command attempt."""

    saga_id: str
    step: str
    kind: Kind
    attempt: int
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    message_id: str = ""


@dataclass(frozen=True)
class TimersDue:
    """The clock moved on: fire every deadline and retry timer due at ``now``.

    ``unpublished`` holds the ids, among :func:`awaited_commands`, of commands
    still waiting in the orchestrator's outbox: their deadlines are pushed forward,
    since no participant can have seen them yet.
    """

    unpublished: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RetryRequested:
    """An operator asks a ``compensation_failed`` saga to try its compensations again."""

    by: str = "operator"


SagaInput = Reply | TimersDue | RetryRequested


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the saga's step log."""

    event: str
    step: str | None = None
    kind: Kind | None = None
    attempt: int | None = None
    message_type: str | None = None
    message_id: str | None = None
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Transition:
    state: SagaState
    commands: tuple[SagaCommand, ...]
    timeline: tuple[TimelineEntry, ...]
    previous_status: SagaStatus

    @property
    def status_changed(self) -> bool:
        return self.state.status is not self.previous_status


def begin(
    definition: SagaDefinition,
    saga_id: str,
    data: Mapping[str, Any],
    *,
    now: float,
    correlation_id: str | None = None,
) -> Transition:
    """A new instance: the first group's commands go out."""
    state = SagaState(
        saga_id=saga_id,
        saga_type=definition.name,
        version=definition.version,
        correlation_id=correlation_id or saga_id,
        status=SagaStatus.RUNNING,
        data=dict(data),
        steps={step.name: StepState() for step in definition.all_steps},
        started_at=now,
    )
    run = _Run(definition, state, now)
    run.assign_roles()
    run.log("started", detail={"version": definition.version})
    run.enter_group(0)
    return run.result(SagaStatus.RUNNING)


def transition(
    definition: SagaDefinition, state: SagaState, message: SagaInput, *, now: float
) -> Transition:
    """The next state of ``state`` after ``message``; ``state`` itself is not modified."""
    run = _Run(definition, state.copy(), now)
    run.assign_roles()
    if isinstance(message, Reply):
        run.cause = message.message_id or None
        run.on_reply(message)
    elif isinstance(message, TimersDue):
        run.unpublished = message.unpublished
        run.on_timers()
    else:
        run.on_retry_requested(message)
    return run.result(state.status)


class _Run:
    """One transition in progress, working on its own copy of the state."""

    def __init__(self, definition: SagaDefinition, state: SagaState, now: float) -> None:
        self.definition = definition
        self.state = state
        self.now = now
        self.commands: list[SagaCommand] = []
        self.timeline: list[TimelineEntry] = []
        self.cause: str | None = None
        self.unpublished: frozenset[str] = frozenset()

    def assign_roles(self) -> None:
        # Kept in the state so operators' tools show roles without the definition.
        for step in self.definition.all_steps:
            self.state.steps.setdefault(step.name, StepState()).role = self.definition.role(
                step.name
            ).value

    def result(self, previous: SagaStatus) -> Transition:
        return Transition(self.state, tuple(self.commands), tuple(self.timeline), previous)

    def log(self, event: str, **fields: Any) -> None:
        self.timeline.append(TimelineEntry(event, **fields))

    # -- sending -----------------------------------------------------------------------------

    def send_action(self, step: Step) -> None:
        current = self.state.steps[step.name]
        current.attempt += 1
        current.sends += 1
        current.status = StepStatus.RUNNING
        current.timer_at = self.now + step.deadline if step.deadline is not None else None
        data = dict(step.data(self.state.data))
        self._emit(step.name, Kind.ACTION, current.attempt, step.command, data)

    def resend_action(self, step: Step, current: StepState) -> None:
        """The same attempt again (same message id): its outcome is unknown."""
        current.sends += 1
        current.timer_at = self.now + step.deadline if step.deadline is not None else None
        data = dict(step.data(self.state.data))
        self._emit(step.name, Kind.ACTION, current.attempt, step.command, data, resend=True)

    def send_compensation(self, step: Step) -> None:
        assert step.compensation is not None
        current = self.state.steps[step.name]
        current.compensation_attempt += 1
        current.compensation = CompensationStatus.RUNNING
        deadline = step.compensation.deadline
        current.timer_at = self.now + deadline if deadline is not None else None
        data = dict(step.compensation.data(self.state.data))
        attempt = current.compensation_attempt
        self._emit(step.name, Kind.COMPENSATION, attempt, step.compensation.command, data)

    def _emit(
        self,
        step: str,
        kind: Kind,
        attempt: int,
        type_: str,
        data: dict[str, Any],
        *,
        resend: bool = False,
    ) -> None:
        message_id = command_id(self.state.saga_id, step, kind, attempt)
        self.commands.append(
            SagaCommand(
                message_id=message_id,
                type=type_,
                data=data,
                saga_id=self.state.saga_id,
                saga_type=self.state.saga_type,
                correlation_id=self.state.correlation_id,
                step=step,
                kind=kind,
                attempt=attempt,
                causation_id=self.cause,
                resend=resend,
            )
        )
        event = "command_sent" if kind is Kind.ACTION else "compensation_sent"
        if resend:
            event = "command_resent"
        self.log(
            event, step=step, kind=kind, attempt=attempt, message_type=type_, message_id=message_id
        )

    # -- forward -----------------------------------------------------------------------------

    def enter_group(self, index: int) -> None:
        groups = self.definition.groups
        self.state.group = index
        if index >= len(groups):
            self.finish(SagaStatus.COMPLETED, None)
            return
        for step in groups[index]:
            self.send_action(step)

    def group_succeeded(self) -> bool:
        group = self.definition.groups[self.state.group]
        return all(self.state.steps[s.name].status is StepStatus.SUCCEEDED for s in group)

    def finish(self, status: SagaStatus, reason: str | None) -> None:
        self.state.status = status
        self.state.finished_at = self.now
        if reason is not None:
            self.state.reason = reason
        self.log(status.value, detail={"reason": reason} if reason else None)

    # -- inputs ------------------------------------------------------------------------------

    def ignore(self, reply: Reply, why: str) -> None:
        self.log(
            "reply_ignored",
            step=reply.step,
            kind=reply.kind,
            attempt=reply.attempt,
            message_type=reply.type,
            message_id=reply.message_id or None,
            detail={"why": why},
        )

    def on_reply(self, reply: Reply) -> None:
        current = self.state.steps.get(reply.step)
        if current is None:
            self.ignore(reply, "no such step")
            return
        step = self.definition.step(reply.step)
        if reply.kind is Kind.ACTION:
            if reply.attempt < 1 or reply.attempt > current.attempt:
                self.ignore(reply, f"attempt {reply.attempt} was never sent")
                return
            if reply.type in step.success:
                self.on_success(step, current, reply)
                return
            if current.status is not StepStatus.RUNNING or reply.attempt != current.attempt:
                self.ignore(reply, f"step is {current.status.value} at attempt {current.attempt}")
                return
            self.on_action_reply(step, current, reply)
        else:
            if reply.attempt < 1 or reply.attempt > current.compensation_attempt:
                self.ignore(reply, f"compensation attempt {reply.attempt} was never sent")
                return
            if step.compensation is not None and reply.type in step.compensation.success:
                self.on_compensated(current, reply)
                return
            awaiting = current.compensation is CompensationStatus.RUNNING
            if not awaiting or reply.attempt != current.compensation_attempt:
                status = current.compensation.value if current.compensation else "not started"
                self.ignore(
                    reply,
                    f"compensation is {status} at attempt {current.compensation_attempt}",
                )
                return
            self.on_compensation_reply(step, current, reply)

    def record_reply(self, reply: Reply, event: str, detail: Mapping[str, Any] | None) -> None:
        self.log(
            event,
            step=reply.step,
            kind=reply.kind,
            attempt=reply.attempt,
            message_type=reply.type,
            message_id=reply.message_id or None,
            detail=detail,
        )

    def on_success(self, step: Step, current: StepState, reply: Reply) -> None:
        """A success to any attempt: the step's effect exists, whatever the saga did since."""
        if current.status is StepStatus.SUCCEEDED:
            self.ignore(reply, "step already succeeded")
            return
        if current.compensation is CompensationStatus.DONE:
            # The compensation came after the action at the participant (which refuses
            # an action arriving after its compensation), so the effect is undone.
            self.ignore(reply, "step already compensated")
            return
        running = self.state.status is SagaStatus.RUNNING
        if not running and current.status not in IN_FLIGHT and step.compensation is None:
            self.ignore(reply, f"step is {current.status.value}; it has nothing to compensate")
            return
        was = current.status
        current.status = StepStatus.SUCCEEDED
        if current.compensation is None:
            current.timer_at = None
        if step.merge is not None:
            self.state.data = dict(step.merge(self.state.data, reply.data))
        if was in IN_FLIGHT:
            self.record_reply(reply, "succeeded", None)
        else:
            # The step had given up (or was refused): its late success is compensated.
            self.record_reply(reply, "late_success", {"was": was.value})
        if running and self.definition.role(step.name) is StepRole.PIVOT:
            self.state.past_pivot = True
            self.log("pivot_passed", step=step.name)
        if self.state.status in (SagaStatus.COMPENSATED, SagaStatus.FAILED):
            self.state.status = SagaStatus.COMPENSATING
            self.state.finished_at = None
            self.log("compensating", detail={"reason": f"late success of {step.name}"})
        self.after_step_settled()

    def on_action_reply(self, step: Step, current: StepState, reply: Reply) -> None:
        """A refusal or transient failure of the attempt the step awaits."""
        if reply.type in step.transient:
            detail = dict(reply.data) or None
            forever = self.definition.role(step.name) is StepRole.RETRIABLE
            retrying = self.state.status is SagaStatus.RUNNING and (
                forever or step.retry.allows_another(current.sends)
            )
            if retrying:
                delay = step.retry.delay(current.attempt)
                current.status = StepStatus.RETRY_WAIT
                current.timer_at = self.now + delay
                self.record_reply(reply, "transient_failure", {"retry_in": delay, **(detail or {})})
                return
            self.record_reply(reply, "transient_failure", detail)
            self.fail_step(current, StepStatus.FAILED, f"{step.name}: {reply.type} (retries spent)")
            return
        if reply.type in step.failure:
            self.record_reply(reply, "failed", dict(reply.data) or None)
            self.fail_step(current, StepStatus.FAILED, f"{step.name}: {reply.type}")
            return
        self.ignore(reply, "unexpected reply type")

    def fail_step(self, current: StepState, status: StepStatus, reason: str) -> None:
        current.status = status
        current.timer_at = None
        current.error = reason
        if self.state.status is SagaStatus.RUNNING:
            self.state.status = SagaStatus.COMPENSATING
            self.state.reason = reason
            self.log("compensating", detail={"reason": reason})
        self.advance_compensation()

    def after_step_settled(self) -> None:
        if self.state.status is SagaStatus.RUNNING:
            if self.group_succeeded():
                self.enter_group(self.state.group + 1)
        elif self.state.status is SagaStatus.COMPENSATING:
            self.advance_compensation()

    def on_timers(self) -> None:
        # Deterministic order: by due time, then by declaration.
        order = {step.name: index for index, step in enumerate(self.definition.all_steps)}
        due = sorted(
            (
                (current.timer_at, order[name], name)
                for name, current in self.state.steps.items()
                if current.timer_at is not None and current.timer_at <= self.now
            ),
        )
        for _at, _index, name in due:
            current = self.state.steps[name]
            if current.timer_at is None or current.timer_at > self.now:
                continue  # an earlier timer in this loop already settled it
            self.fire(self.definition.step(name), current)

    def keeps_sending(self, step: Step, current: StepState) -> bool:
        """Whether a step whose outcome is unknown is sent again rather than given up."""
        role = self.definition.role(step.name)
        if role is StepRole.RETRIABLE:
            return True  # after the pivot a step never gives up
        if role is StepRole.PIVOT and step.compensation is None:
            return True  # nothing could undo it: only an answer settles it
        return step.retry.allows_another(current.sends)

    def fire(self, step: Step, current: StepState) -> None:
        if current.status is StepStatus.RUNNING:
            sent = command_id(self.state.saga_id, step.name, Kind.ACTION, current.attempt)
            if sent in self.unpublished and step.deadline is not None:
                self.extend(step.name, Kind.ACTION, current, step.deadline)
            elif self.state.status is SagaStatus.RUNNING and self.keeps_sending(step, current):
                self.log(
                    "timed_out",
                    step=step.name,
                    kind=Kind.ACTION,
                    attempt=current.attempt,
                    detail={"outcome": "unknown", "then": "resend", "sends": current.sends},
                )
                self.resend_action(step, current)
            else:
                self.log(
                    "timed_out",
                    step=step.name,
                    kind=Kind.ACTION,
                    attempt=current.attempt,
                    detail={"outcome": "unknown", "then": "compensate", "sends": current.sends},
                )
                self.fail_step(current, StepStatus.TIMED_OUT, f"{step.name}: no reply in time")
        elif current.status is StepStatus.RETRY_WAIT:
            current.timer_at = None
            self.send_action(step)
        elif current.compensation is CompensationStatus.RUNNING:
            attempt = current.compensation_attempt
            assert step.compensation is not None
            sent = command_id(self.state.saga_id, step.name, Kind.COMPENSATION, attempt)
            if sent in self.unpublished and step.compensation.deadline is not None:
                self.extend(step.name, Kind.COMPENSATION, current, step.compensation.deadline)
                return
            self.log("timed_out", step=step.name, kind=Kind.COMPENSATION, attempt=attempt)
            self.compensation_attempt_failed(step, current, "no reply in time")
        elif current.compensation is CompensationStatus.RETRY_WAIT:
            current.timer_at = None
            self.send_compensation(step)
        else:  # pragma: no cover - a timer is only set in the states above
            current.timer_at = None

    def extend(self, name: str, kind: Kind, current: StepState, deadline: float) -> None:
        """The command still sits in the outbox: its clock has not started yet."""
        current.timer_at = self.now + deadline
        attempt = current.attempt if kind is Kind.ACTION else current.compensation_attempt
        self.log(
            "deadline_extended",
            step=name,
            kind=kind,
            attempt=attempt,
            detail={"why": "command not yet published", "until": current.timer_at},
        )

    def on_retry_requested(self, request: RetryRequested) -> None:
        if self.state.status is not SagaStatus.COMPENSATION_FAILED:
            self.log("retry_refused", detail={"by": request.by, "status": self.state.status.value})
            return
        for current in self.state.steps.values():
            if current.compensation is CompensationStatus.FAILED:
                current.compensation = None
                current.compensation_budget_base = current.compensation_attempt
        self.state.status = SagaStatus.COMPENSATING
        self.state.finished_at = None
        self.log("retry_requested", detail={"by": request.by})
        self.advance_compensation()

    # -- backward ----------------------------------------------------------------------------

    def advance_compensation(self) -> None:
        """Undo completed steps, newest first, once nothing is in flight."""
        if self.state.status is not SagaStatus.COMPENSATING:
            return
        # Steps waiting to retry a transient failure never took effect: drop them.
        for name, current in self.state.steps.items():
            if current.status is StepStatus.RETRY_WAIT:
                current.status = StepStatus.CANCELLED
                current.timer_at = None
                self.log("cancelled", step=name, kind=Kind.ACTION, attempt=current.attempt)
        # A sibling still in flight may yet succeed; wait for its reply or deadline.
        if any(current.status in IN_FLIGHT for current in self.state.steps.values()):
            return
        # One compensation at a time (a late success may add a step behind the one in
        # flight: it is undone next).
        undoing = (CompensationStatus.RUNNING, CompensationStatus.RETRY_WAIT)
        if any(current.compensation in undoing for current in self.state.steps.values()):
            return
        for step in reversed(self.definition.all_steps):
            current = self.state.steps[step.name]
            if current.status not in NEEDS_UNDO or step.compensation is None:
                continue
            if current.compensation is CompensationStatus.DONE:
                continue
            if current.compensation is CompensationStatus.FAILED:
                self.state.status = SagaStatus.COMPENSATION_FAILED
                return
            self.send_compensation(step)
            return
        undone = any(
            current.compensation is CompensationStatus.DONE for current in self.state.steps.values()
        )
        self.finish(SagaStatus.COMPENSATED if undone else SagaStatus.FAILED, None)

    def on_compensated(self, current: StepState, reply: Reply) -> None:
        """A success to any attempt of the compensation: the step is undone."""
        if current.compensation is CompensationStatus.DONE:
            self.ignore(reply, "compensation already done")
            return
        current.compensation = CompensationStatus.DONE
        current.timer_at = None
        self.record_reply(reply, "compensated", None)
        stuck = any(
            other.compensation is CompensationStatus.FAILED for other in self.state.steps.values()
        )
        if self.state.status is SagaStatus.COMPENSATION_FAILED and not stuck:
            self.state.status = SagaStatus.COMPENSATING
            self.state.finished_at = None
        self.advance_compensation()

    def on_compensation_reply(self, step: Step, current: StepState, reply: Reply) -> None:
        """A failure (or an unexpected reply) to the compensation attempt awaited."""
        assert step.compensation is not None
        if reply.type in step.compensation.failure:
            self.record_reply(reply, "compensation_attempt_failed", dict(reply.data) or None)
            self.compensation_attempt_failed(step, current, reply.type)
            return
        self.ignore(reply, "unexpected reply type")

    def compensation_attempt_failed(self, step: Step, current: StepState, why: str) -> None:
        assert step.compensation is not None
        policy = step.compensation.retry
        made = current.compensation_attempt - current.compensation_budget_base
        if policy.allows_another(made):
            delay = policy.delay(made)
            current.compensation = CompensationStatus.RETRY_WAIT
            current.timer_at = self.now + delay
            self.log(
                "compensation_retry_scheduled",
                step=step.name,
                kind=Kind.COMPENSATION,
                attempt=current.compensation_attempt,
                detail={"retry_in": delay, "why": why},
            )
            return
        current.compensation = CompensationStatus.FAILED
        current.timer_at = None
        current.error = f"compensation of {step.name} failed: {why}"
        self.state.status = SagaStatus.COMPENSATION_FAILED
        self.log(
            "dead_lettered",
            step=step.name,
            kind=Kind.COMPENSATION,
            attempt=current.compensation_attempt,
            detail={"why": why, "attempts": made},
        )
        self.log(SagaStatus.COMPENSATION_FAILED.value, detail={"step": step.name})


def awaited_commands(state: SagaState, now: float) -> list[str]:
    """Ids of the commands whose deadline is due at ``now``: the engine reports which of
    them are still unpublished (:attr:`TimersDue.unpublished`)."""
    ids: list[str] = []
    for name, current in state.steps.items():
        if current.timer_at is None or current.timer_at > now:
            continue
        if current.status is StepStatus.RUNNING:
            ids.append(command_id(state.saga_id, name, Kind.ACTION, current.attempt))
        elif current.compensation is CompensationStatus.RUNNING:
            attempt = current.compensation_attempt
            ids.append(command_id(state.saga_id, name, Kind.COMPENSATION, attempt))
    return ids


def is_final(state: SagaState) -> bool:
    return state.status in FINAL_STATUSES
