"""The pure core: one message in, the next state and commands out."""

from __future__ import annotations

import pytest
from saga_fixtures import forked_saga, linear_saga

from tidings.errors import ConfigurationError
from tidings.sagas import (
    Kind,
    Parallel,
    Reply,
    RetryPolicy,
    RetryRequested,
    SagaCommand,
    SagaDefinition,
    SagaState,
    SagaStatus,
    Step,
    TimersDue,
    Transition,
    begin,
    transition,
)


def reply_to(command: SagaCommand, type_: str, **data: object) -> Reply:
    return Reply(
        saga_id=command.saga_id,
        step=command.step,
        kind=command.kind,
        attempt=command.attempt,
        type=type_,
        data=data,
        message_id=f"r-{command.message_id}-{type_}",
    )


def events(moved: Transition) -> list[str]:
    return [entry.event for entry in moved.timeline]


def only(moved: Transition) -> SagaCommand:
    assert len(moved.commands) == 1, moved.commands
    return moved.commands[0]


def test_a_saga_runs_its_steps_in_order_and_completes() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {"n": 1}, now=0.0)
    assert only(moved).type == "p.DoFirst"
    assert only(moved).data == {"saga": 1}
    for command_type, done in (("p.DoFirst", "p.FirstDone"), ("p.DoSecond", "p.SecondDone")):
        command = only(moved)
        assert command.type == command_type
        moved = transition(saga, moved.state, reply_to(command, done, seen=done), now=1.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.ThirdDone"), now=2.0)
    assert moved.state.status is SagaStatus.COMPLETED
    assert moved.commands == ()
    assert moved.state.data["seen"] == "p.SecondDone"
    assert moved.state.next_timer is None


def test_the_input_state_is_not_modified() -> None:
    saga = linear_saga()
    started = begin(saga, "s1", {"n": 1}, now=0.0)
    before = started.state.to_json()
    transition(saga, started.state, reply_to(only(started), "p.FirstDone"), now=1.0)
    assert started.state.to_json() == before


def test_a_refusal_compensates_completed_steps_in_reverse_order() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=1.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.SecondDone"), now=1.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.ThirdRefused"), now=2.0)
    assert moved.state.status is SagaStatus.COMPENSATING
    # third has no compensation and refused anyway: second is undone first.
    assert only(moved).type == "p.UndoSecond"
    moved = transition(saga, moved.state, reply_to(only(moved), "p.SecondUndone"), now=3.0)
    assert only(moved).type == "p.UndoFirst"
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstUndone"), now=3.0)
    assert moved.state.status is SagaStatus.COMPENSATED
    assert moved.state.reason == "third: p.ThirdRefused"


def test_a_first_step_refusal_fails_with_nothing_to_undo() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstRefused"), now=1.0)
    assert moved.state.status is SagaStatus.FAILED
    assert moved.commands == ()


def test_transient_failures_retry_with_backoff_then_count_as_failure() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    first = only(moved)
    moved = transition(saga, moved.state, reply_to(first, "p.SecondBusy"), now=1.0)
    assert moved.commands == ()
    assert moved.state.next_timer == 2.0  # backoff 1s after attempt 1
    early = transition(saga, moved.state, TimersDue(), now=1.5)
    assert early.commands == ()
    moved = transition(saga, moved.state, TimersDue(), now=2.0)
    second = only(moved)
    assert (second.step, second.attempt) == ("second", 2)
    assert second.message_id != first.message_id
    moved = transition(saga, moved.state, reply_to(second, "p.SecondBusy"), now=2.0)
    assert moved.state.next_timer == 4.0  # doubled
    moved = transition(saga, moved.state, TimersDue(), now=4.0)
    third = only(moved)
    assert third.attempt == 3
    moved = transition(saga, moved.state, reply_to(third, "p.SecondBusy"), now=4.0)
    assert moved.state.status is SagaStatus.COMPENSATING
    assert only(moved).type == "p.UndoFirst"


def test_a_missed_deadline_fails_the_step_and_compensates_it_too() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=1.0)
    late_command = only(moved)
    assert moved.state.next_timer == 11.0
    moved = transition(saga, moved.state, TimersDue(), now=11.0)
    assert moved.state.status is SagaStatus.COMPENSATING
    # The effect of a timed-out step is unknown: it is undone first.
    assert only(moved).type == "p.UndoSecond"
    late = transition(saga, moved.state, reply_to(late_command, "p.SecondDone"), now=12.0)
    assert events(late) == ["reply_ignored"]
    assert late.commands == ()
    assert late.state.to_json() == moved.state.to_json()


def test_duplicate_replies_change_nothing_and_are_recorded() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    reply = reply_to(only(moved), "p.FirstDone")
    moved = transition(saga, moved.state, reply, now=1.0)
    again = transition(saga, moved.state, reply, now=1.0)
    assert again.commands == ()
    assert events(again) == ["reply_ignored"]
    assert again.timeline[0].message_id == reply.message_id
    assert again.state.to_json() == moved.state.to_json()


def test_unexpected_reply_types_and_unknown_steps_are_ignored() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    odd = transition(saga, moved.state, reply_to(only(moved), "p.Whatever"), now=1.0)
    assert events(odd) == ["reply_ignored"]
    stray = Reply("s1", "nope", Kind.ACTION, 1, "p.FirstDone")
    assert events(transition(saga, moved.state, stray, now=1.0)) == ["reply_ignored"]


def test_a_compensation_that_keeps_failing_rests_until_retried() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.SecondRefused"), now=0.0)
    undo = only(moved)
    moved = transition(saga, moved.state, reply_to(undo, "p.FirstUndoFailed"), now=1.0)
    moved = transition(saga, moved.state, TimersDue(), now=2.0)
    second_try = only(moved)
    assert second_try.attempt == 2
    moved = transition(saga, moved.state, TimersDue(), now=7.0)  # compensation deadline
    assert moved.state.status is SagaStatus.COMPENSATION_FAILED
    assert "dead_lettered" in events(moved)
    assert moved.state.next_timer is None
    refused = transition(saga, moved.state, RetryRequested(), now=8.0)
    assert refused.commands != ()
    retried = only(refused)
    assert (retried.type, retried.attempt) == ("p.UndoFirst", 3)
    assert refused.state.status is SagaStatus.COMPENSATING
    done = transition(saga, refused.state, reply_to(retried, "p.FirstUndone"), now=9.0)
    assert done.state.status is SagaStatus.COMPENSATED


def test_retry_is_refused_unless_compensation_failed() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    refused = transition(saga, moved.state, RetryRequested(by="me"), now=1.0)
    assert events(refused) == ["retry_refused"]
    assert refused.state.status is SagaStatus.RUNNING


def test_parallel_steps_fork_and_join() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    left, right = moved.commands
    assert {left.step, right.step} == {"left", "right"}
    moved = transition(saga, moved.state, reply_to(right, "p.RightDone"), now=1.0)
    assert moved.commands == ()
    moved = transition(saga, moved.state, reply_to(left, "p.LeftDone"), now=2.0)
    assert only(moved).step == "last"


def test_a_failed_branch_waits_for_its_sibling_then_compensates_what_succeeded() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    left, right = moved.commands
    moved = transition(saga, moved.state, reply_to(left, "p.LeftRefused"), now=1.0)
    assert moved.state.status is SagaStatus.COMPENSATING
    assert moved.commands == ()  # right is still in flight
    moved = transition(saga, moved.state, reply_to(right, "p.RightDone"), now=2.0)
    assert only(moved).type == "p.UndoRight"
    moved = transition(saga, moved.state, reply_to(only(moved), "p.RightUndone"), now=3.0)
    assert only(moved).type == "p.UndoFirst"
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstUndone"), now=3.0)
    assert moved.state.status is SagaStatus.COMPENSATED


def test_a_sibling_waiting_to_retry_is_cancelled_when_the_other_fails() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    left, right = moved.commands
    moved = transition(saga, moved.state, reply_to(right, "p.RightBusy"), now=1.0)
    moved = transition(saga, moved.state, reply_to(left, "p.LeftRefused"), now=1.5)
    assert "cancelled" in events(moved)
    assert only(moved).type == "p.UndoFirst"
    later = transition(saga, moved.state, TimersDue(), now=3.0)
    assert all(command.kind is Kind.COMPENSATION for command in later.commands)


def test_state_round_trips_through_json() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {"n": 3}, now=0.0, correlation_id="c-1")
    assert SagaState.from_json(moved.state.to_json()) == moved.state
    assert moved.state.correlation_id == "c-1"


def test_command_ids_are_uuids_unique_per_attempt_and_stable() -> None:
    saga = linear_saga()
    first = begin(saga, "abc", {}, now=0.0)
    again = begin(saga, "abc", {}, now=5.0)
    other = begin(saga, "abd", {}, now=0.0)
    assert only(first).message_id == only(again).message_id
    assert only(first).message_id != only(other).message_id
    assert len(only(first).message_id) == 36
    moved = transition(saga, first.state, reply_to(only(first), "p.FirstDone"), now=1.0)
    assert only(moved).causation_id == f"r-{only(first).message_id}-p.FirstDone"


def test_definitions_refuse_mistakes() -> None:
    with pytest.raises(ConfigurationError):
        Step("bad name", command="x", success=("y",))
    with pytest.raises(ConfigurationError):
        Step("s", command="x", success=())
    with pytest.raises(ConfigurationError):
        Step("s", command="x", success=("y",), failure=("y",))
    with pytest.raises(ConfigurationError):
        Parallel(Step("s", command="x", success=("y",)))
    with pytest.raises(ConfigurationError):
        SagaDefinition("d", steps=(Step("s", command="x", success=("y",)),) * 2)
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)


def test_retry_policy_backs_off_up_to_its_cap() -> None:
    policy = RetryPolicy(max_attempts=5, backoff=1.0, multiplier=3.0, max_backoff=5.0)
    assert [policy.delay(n) for n in (1, 2, 3)] == [1.0, 3.0, 5.0]
    assert policy.allows_another(4)
    assert not policy.allows_another(5)


def test_definitions_list_the_reply_and_command_types() -> None:
    saga = linear_saga()
    assert "p.FirstUndone" in saga.reply_types
    assert "p.ThirdBusy" in saga.reply_types
    assert saga.command_types == {
        "p.DoFirst",
        "p.DoSecond",
        "p.DoThird",
        "p.UndoFirst",
        "p.UndoSecond",
    }
