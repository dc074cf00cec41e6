"""Property test over interleavings: replies in any order, duplicates, late replies,
replies racing deadlines, and operator retries.

Invariants: every saga ends in exactly one final status, no step command is sent
once the saga stopped running, compensations go newest first, and no compensation
is sent again after it was acknowledged (so none runs twice in effect at a
participant that applies a compensation once per command).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from saga_fixtures import forked_saga, linear_saga

from tidings.sagas import (
    FINAL_STATUSES,
    CompensationStatus,
    Kind,
    Reply,
    RetryRequested,
    SagaCommand,
    SagaDefinition,
    SagaState,
    SagaStatus,
    StepStatus,
    TimersDue,
    Transition,
    begin,
    transition,
)


def outcomes_for(definition: SagaDefinition, command: SagaCommand) -> list[str]:
    step = definition.step(command.step)
    if command.kind is Kind.ACTION:
        return [*step.success, *step.failure, *step.transient, "p.Nonsense"]
    assert step.compensation is not None
    return [*step.compensation.success, *step.compensation.failure]


class SagaInterleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.definition: SagaDefinition | None = None
        self.now = 0.0
        self.sent: list[SagaCommand] = []
        self.undone: set[str] = set()
        """Steps whose compensation the saga accepted as done."""
        self.compensated_in_effect: dict[str, int] = {}
        self.accepted_successes: dict[str, int] = {}
        self._state: SagaState | None = None

    @rule(forked=st.booleans())
    @precondition(lambda self: self.definition is None)
    def start(self, forked: bool) -> None:
        self.definition = forked_saga() if forked else linear_saga()
        self.apply(begin(self.definition, "saga-1", {"n": 1}, now=self.now))

    def apply(self, moved: Transition) -> None:
        previous = self._state.status if self._state is not None else None
        for command in moved.commands:
            if command.kind is Kind.ACTION:
                assert previous in (None, SagaStatus.RUNNING), "step command after failure"
            else:
                assert command.step not in self.undone, "compensation sent after it was done"
                self.check_reverse_order(moved, command.step)
        for entry in moved.timeline:
            if entry.event == "succeeded" and entry.step:
                self.accepted_successes[entry.step] = self.accepted_successes.get(entry.step, 0) + 1
            if entry.event == "compensated" and entry.step:
                self.undone.add(entry.step)
                self.compensated_in_effect[entry.step] = (
                    self.compensated_in_effect.get(entry.step, 0) + 1
                )
        self.sent.extend(moved.commands)
        self._state = moved.state

    def check_reverse_order(self, moved: Transition, step_name: str) -> None:
        assert self.definition is not None
        names = [step.name for step in self.definition.all_steps]
        later = names[names.index(step_name) + 1 :]
        for name in later:
            step = self.definition.step(name)
            current = moved.state.steps[name]
            if step.compensation is not None and current.status in (
                StepStatus.SUCCEEDED,
                StepStatus.TIMED_OUT,
            ):
                assert current.compensation is CompensationStatus.DONE, (
                    f"compensating {step_name} before later step {name}"
                )

    @property
    def state(self) -> SagaState:
        assert self._state is not None
        return self._state

    @rule(data=st.data())
    @precondition(lambda self: bool(self.sent))
    def deliver_a_reply(self, data: st.DataObject) -> None:
        assert self.definition is not None
        command = data.draw(st.sampled_from(self.sent), label="to command")
        reply_type = data.draw(st.sampled_from(outcomes_for(self.definition, command)))
        reply = Reply(
            saga_id=command.saga_id,
            step=command.step,
            kind=command.kind,
            attempt=command.attempt,
            type=reply_type,
            message_id=f"{command.message_id}:{reply_type}",
        )
        self.apply(transition(self.definition, self.state, reply, now=self.now))

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0, 11.0]))
    @precondition(lambda self: self.definition is not None)
    def time_passes(self, seconds: float) -> None:
        assert self.definition is not None
        self.now += seconds
        self.apply(transition(self.definition, self.state, TimersDue(), now=self.now))

    @rule()
    @precondition(lambda self: self.definition is not None)
    def operator_retries(self) -> None:
        assert self.definition is not None
        self.apply(transition(self.definition, self.state, RetryRequested(), now=self.now))

    @invariant()
    def consistent(self) -> None:
        if self.definition is None:
            return
        state = self.state
        assert all(count == 1 for count in self.accepted_successes.values())
        assert all(count == 1 for count in self.compensated_in_effect.values())
        if state.status in FINAL_STATUSES:
            assert state.next_timer is None
            assert state.current_steps == []
        if state.status is SagaStatus.RUNNING:
            assert state.next_timer is not None, "a running saga always waits on a timer"

    def teardown(self) -> None:
        """Let every participant answer promptly from now on: the saga must end."""
        if self.definition is None:
            return
        for _ in range(200):
            if self.state.status in FINAL_STATUSES:
                break
            if self.state.status is SagaStatus.COMPENSATION_FAILED:
                self.apply(transition(self.definition, self.state, RetryRequested(), now=self.now))
                continue
            awaited = self.awaited_commands()
            if awaited:
                command = awaited[0]
                step = self.definition.step(command.step)
                if command.kind is Kind.ACTION:
                    reply_type = step.success[0]
                else:
                    assert step.compensation is not None
                    reply_type = step.compensation.success[0]
                reply = Reply(
                    command.saga_id, command.step, command.kind, command.attempt, reply_type
                )
                self.apply(transition(self.definition, self.state, reply, now=self.now))
            else:
                self.now += 60.0
                self.apply(transition(self.definition, self.state, TimersDue(), now=self.now))
        assert self.state.status in FINAL_STATUSES, self.state.status

    def awaited_commands(self) -> list[SagaCommand]:
        awaited = []
        for command in self.sent:
            current = self.state.steps[command.step]
            if command.kind is Kind.ACTION:
                if current.status is StepStatus.RUNNING and command.attempt == current.attempt:
                    awaited.append(command)
            elif (
                current.compensation is CompensationStatus.RUNNING
                and command.attempt == current.compensation_attempt
            ):
                awaited.append(command)
        return awaited


SagaInterleavings.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSagaInterleavings = SagaInterleavings.TestCase
