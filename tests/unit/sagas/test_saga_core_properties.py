"""Property test of the pure core against honest participants, over random
interleavings: commands held in the outbox, processed in any order, replies
delivered late, twice or never until the end, deadlines firing in between,
transient failures, refused steps and compensations, and operator retries.

The participants are modelled, not the replies: each command id is processed at
most once (the inbox), a step's effect exists from a success until its
compensation is processed, and a compensation processed first leaves a
tombstone, so the action arriving after it is refused.

Invariants, checked after every transition and at the end, once every
participant answers promptly:

* at the end, every step whose action took effect is compensated, or the saga
  completed;
* no compensation is sent for a step whose action was never sent;
* a saga past its pivot never compensates, and completes;
* no step is both compensated and part of a completed saga;
* no step command is sent once the saga stopped running, and compensations run
  one at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from saga_fixtures import forked_saga, linear_saga, pivoted_saga

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
    TimersDue,
    Transition,
    begin,
    transition,
)
from tidings.sagas.core import awaited_commands

SAGAS = {
    "linear": linear_saga,
    "forked": forked_saga,
    "pivot_with_undo": pivoted_saga,
    "pivot_without_undo": lambda: pivoted_saga(pivot_undo=False),
}

INTERESTING = frozenset(
    {
        "late_success",
        "command_resent",
        "deadline_extended",
        "pivot_passed",
        "compensated",
        "dead_lettered",
        "completed",
        "failed",
    }
)


@dataclass
class Participant:
    """What one step's participant holds for the saga."""

    effect: bool = False
    """The action took effect and was not undone."""
    tombstone: bool = False
    """A compensation was processed: a later action is refused."""
    ever_effect: bool = False
    undone: int = 0
    """Compensations processed that undid an effect."""


@dataclass
class World:
    participants: dict[str, Participant] = field(default_factory=dict)
    commands: dict[str, SagaCommand] = field(default_factory=dict)
    """Every command id sent, with its command."""
    unpublished: set[str] = field(default_factory=set)
    """Ids still in the orchestrator's outbox."""
    processed: set[str] = field(default_factory=set)
    """Ids a participant took (its inbox drops them if they come again)."""
    replies: list[Reply] = field(default_factory=list)
    """Replies on their way; delivering one does not remove it (duplicates)."""


class SagaInterleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.definition: SagaDefinition | None = None
        self.now = 0.0
        self.world = World()
        self.actions_sent: set[str] = set()
        self.compensations_sent: set[str] = set()
        self._state: SagaState | None = None

    # -- the orchestrator ------------------------------------------------------------------

    @initialize(kind=st.sampled_from(sorted(SAGAS)))
    def start(self, kind: str) -> None:
        self.definition = SAGAS[kind]()
        self.world.participants = {step.name: Participant() for step in self.definition.all_steps}
        self.apply(begin(self.definition, "saga-1", {"n": 1}, now=self.now))

    @property
    def saga(self) -> SagaDefinition:
        assert self.definition is not None
        return self.definition

    @property
    def state(self) -> SagaState:
        assert self._state is not None
        return self._state

    def apply(self, moved: Transition) -> None:
        previous = self._state.status if self._state is not None else SagaStatus.RUNNING
        for command in moved.commands:
            if command.kind is Kind.ACTION:
                assert previous is SagaStatus.RUNNING, "a step command after the saga stopped"
                self.actions_sent.add(command.step)
            else:
                assert command.step in self.actions_sent, "a compensation with no action sent"
                assert not (self._state and self._state.past_pivot), "compensating past the pivot"
                self.compensations_sent.add(command.step)
            if command.message_id not in self.world.processed:
                self.world.unpublished.add(command.message_id)
            self.world.commands[command.message_id] = command
        for entry in moved.timeline:
            if entry.event in INTERESTING:
                event(entry.event)  # shows in --hypothesis-show-statistics
        self._state = moved.state

    def fire_timers(self) -> None:
        due = awaited_commands(self.state, self.now)
        waiting = frozenset(due) & self.world.unpublished
        self.apply(transition(self.saga, self.state, TimersDue(waiting), now=self.now))

    # Few rules, each with a drawn variant: the more rules, the rarer the long runs that
    # reach a pivot and then stay silent past its deadlines.

    @rule(jump=st.sampled_from(["next timer", "next timer", 0.5, 2.0, 11.0]))
    def time_passes(self, jump: str | float) -> None:
        if isinstance(jump, float):
            self.now += jump
        elif self.state.next_timer is not None:
            # Straight to the next deadline or retry: participants that stay silent.
            self.now = max(self.now, self.state.next_timer)
        self.fire_timers()

    @rule()
    @precondition(lambda self: self.state.status is SagaStatus.COMPENSATION_FAILED)
    def operator_retries(self) -> None:
        self.apply(transition(self.saga, self.state, RetryRequested(), now=self.now))

    @rule(data=st.data())
    @precondition(lambda self: bool(self.world.replies))
    def deliver_a_reply(self, data: st.DataObject) -> None:
        """Any reply again: a duplicate, or one overtaken by later events."""
        reply = data.draw(st.sampled_from(self.world.replies), label="reply")
        self.apply(transition(self.saga, self.state, reply, now=self.now))

    @rule(data=st.data())
    @precondition(lambda self: bool(self.sendable()))
    def relay_and_participant(self, data: st.DataObject) -> None:
        """One command goes as far as drawn: published; taken (its reply on its way); or
        taken and its reply delivered at once, how the saga makes headway."""
        message_id = data.draw(st.sampled_from(self.sendable()), label="command")
        how_far = data.draw(st.sampled_from(["answered", "answered", "taken", "published"]))
        self.world.unpublished.discard(message_id)
        if how_far == "published":
            return
        command = self.world.commands[message_id]
        self.take(command, data.draw(st.sampled_from(self.honest_outcomes(command))))
        if how_far == "answered":
            self.apply(transition(self.saga, self.state, self.world.replies[-1], now=self.now))

    def sendable(self) -> list[str]:
        return sorted(set(self.world.commands) - self.world.processed)

    def takeable(self) -> list[str]:
        world = self.world
        return sorted(set(world.commands) - world.unpublished - world.processed)

    def honest_outcomes(self, command: SagaCommand) -> list[str]:
        step = self.saga.step(command.step)
        held = self.world.participants[command.step]
        if command.kind is Kind.ACTION:
            if held.tombstone:
                return [*step.failure] or [*step.transient]
            if held.effect:
                return [step.success[0]]  # asked again: the same answer
            # Success weighs more, so runs get past the pivot often.
            return [*step.success[:1] * 3, *step.failure[:1], *step.transient[:1]]
        assert step.compensation is not None
        return [*step.compensation.success[:1] * 2, *step.compensation.failure[:1]]

    def take(self, command: SagaCommand, outcome: str) -> None:
        step = self.saga.step(command.step)
        held = self.world.participants[command.step]
        if command.kind is Kind.ACTION and outcome in step.success:
            held.effect = held.ever_effect = True
        if step.compensation is not None and outcome in step.compensation.success:
            if held.effect:
                held.undone += 1
            held.effect = False
            held.tombstone = True
        self.world.processed.add(command.message_id)
        self.world.replies.append(
            Reply(
                saga_id=command.saga_id,
                step=command.step,
                kind=command.kind,
                attempt=command.attempt,
                type=outcome,
                message_id=f"{command.message_id}:{outcome}",
            )
        )

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def consistent(self) -> None:
        if self.definition is None:
            return
        state = self.state
        if state.past_pivot:
            assert state.status in (SagaStatus.RUNNING, SagaStatus.COMPLETED), state.status
        if state.status is SagaStatus.COMPLETED:
            assert not self.compensations_sent, "a completed saga compensated a step"
        undoing = [
            name
            for name, current in state.steps.items()
            if current.compensation in (CompensationStatus.RUNNING, CompensationStatus.RETRY_WAIT)
        ]
        assert len(undoing) <= 1, f"compensations at once: {undoing}"
        if state.status in FINAL_STATUSES:
            assert state.next_timer is None
            assert state.current_steps == []
        if state.status is SagaStatus.RUNNING:
            assert state.next_timer is not None, "a running saga always waits on a timer"

    def teardown(self) -> None:
        """From now on the relay is up and participants answer promptly: the saga must end,
        and what the participants hold must agree with how it ended."""
        if self.definition is None:
            return
        # Replies still on their way arrive at last (they wait in participants' outboxes).
        for reply in list(self.world.replies):
            self.apply(transition(self.saga, self.state, reply, now=self.now))
        for _ in range(400):
            self.world.unpublished.clear()
            waiting = self.takeable()
            if waiting:
                # Commands still reach their participants after the saga ended.
                command = self.world.commands[waiting[0]]
                self.take(command, self.prompt_outcome(command))
                reply = self.world.replies[-1]
                self.apply(transition(self.saga, self.state, reply, now=self.now))
            elif self.state.status is SagaStatus.COMPENSATION_FAILED:
                self.apply(transition(self.saga, self.state, RetryRequested(), now=self.now))
            elif self.state.status in FINAL_STATUSES:
                break
            else:
                self.now += 60.0
                self.fire_timers()
        state = self.state
        assert state.status in FINAL_STATUSES, state.status
        held = self.world.participants
        if state.status is SagaStatus.COMPLETED:
            assert all(item.effect for item in held.values()), "completed without every effect"
            assert not any(item.tombstone for item in held.values()), "completed yet compensated"
        else:
            assert not state.past_pivot, "a saga past its pivot did not complete"
            live = sorted(name for name, item in held.items() if item.effect)
            assert not live, f"the saga {state.status} but steps {live} still hold their effect"
        assert all(item.undone <= 1 for item in held.values())

    def prompt_outcome(self, command: SagaCommand) -> str:
        """An answer that moves the saga on: success unless the participant must refuse."""
        step = self.saga.step(command.step)
        held = self.world.participants[command.step]
        if command.kind is Kind.ACTION:
            if held.tombstone:
                return ([*step.failure] or [*step.transient])[0]
            return step.success[0]
        assert step.compensation is not None
        return step.compensation.success[0]


SagaInterleavings.TestCase.settings = settings(
    max_examples=int(os.environ.get("SAGA_PROPERTY_EXAMPLES", "300")),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSagaInterleavings = SagaInterleavings.TestCase
