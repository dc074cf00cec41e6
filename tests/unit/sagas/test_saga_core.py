"""The pure core: one message in, the next state and commands out."""

from __future__ import annotations

import pytest
from saga_fixtures import compensable, forked_saga, linear_saga, pivoted_saga, retriable

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
    StepRole,
    StepStatus,
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


def test_a_missed_deadline_resends_the_same_command_then_compensates_the_step_too() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=1.0)
    sent = only(moved)
    assert moved.state.next_timer == 11.0
    # The outcome is unknown, not failed: the same message again (the inbox dedupes it).
    for now in (11.0, 21.0):
        moved = transition(saga, moved.state, TimersDue(), now=now)
        again = only(moved)
        assert again.resend
        assert again.message_id == sent.message_id
        assert moved.state.status is SagaStatus.RUNNING
    assert moved.state.steps["second"].sends == 3
    moved = transition(saga, moved.state, TimersDue(), now=31.0)
    assert moved.state.status is SagaStatus.COMPENSATING
    assert moved.state.steps["second"].status is StepStatus.TIMED_OUT
    # Its effect is unknown: it is undone first.
    assert only(moved).type == "p.UndoSecond"
    late = transition(saga, moved.state, reply_to(sent, "p.SecondDone"), now=32.0)
    assert events(late) == ["late_success"]
    assert late.commands == ()  # its compensation is already on its way
    assert late.state.steps["second"].status is StepStatus.SUCCEEDED


def test_a_late_success_after_giving_up_is_compensated_not_ignored() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    left, right = moved.commands
    moved = transition(saga, moved.state, reply_to(left, "p.LeftRefused"), now=1.0)
    # right is in flight while the saga compensates: its deadline gives up at once.
    moved = transition(saga, moved.state, TimersDue(), now=10.0)
    assert moved.state.steps["right"].status is StepStatus.TIMED_OUT
    undo_right = only(moved)
    assert undo_right.type == "p.UndoRight"
    moved = transition(saga, moved.state, reply_to(undo_right, "p.RightUndone"), now=11.0)
    undo_first = only(moved)
    # Right's success arrives after its compensation: already undone, nothing more.
    late = transition(saga, moved.state, reply_to(right, "p.RightDone"), now=12.0)
    assert events(late) == ["reply_ignored"]
    assert late.timeline[0].detail == {"why": "step already compensated"}
    moved = transition(saga, moved.state, reply_to(undo_first, "p.FirstUndone"), now=13.0)
    assert moved.state.status is SagaStatus.COMPENSATED


def test_a_success_that_arrives_while_compensating_is_compensated() -> None:
    saga = forked_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    left, right = moved.commands
    moved = transition(saga, moved.state, reply_to(right, "p.RightBusy"), now=1.0)
    moved = transition(saga, moved.state, reply_to(left, "p.LeftRefused"), now=1.5)
    assert moved.state.steps["right"].status is StepStatus.CANCELLED
    undo_first = only(moved)
    # A participant that answered "busy" and then "done" contradicts itself; the saga
    # sides with the effect and undoes it too.
    moved = transition(saga, moved.state, reply_to(right, "p.RightDone"), now=2.0)
    assert events(moved)[0] == "late_success"
    moved = transition(saga, moved.state, reply_to(undo_first, "p.FirstUndone"), now=3.0)
    assert only(moved).type == "p.UndoRight"


def test_a_deadline_waits_while_its_command_is_still_in_the_outbox() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    sent = only(moved)
    unpublished = frozenset({sent.message_id})
    moved = transition(saga, moved.state, TimersDue(unpublished=unpublished), now=10.0)
    assert moved.commands == ()
    assert events(moved) == ["deadline_extended"]
    assert moved.state.steps["first"].sends == 1
    assert moved.state.next_timer == 20.0
    moved = transition(saga, moved.state, TimersDue(), now=20.0)
    assert only(moved).resend


def test_a_pivot_without_compensation_is_resent_until_it_is_answered() -> None:
    saga = pivoted_saga(pivot_undo=False)
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.ReserveDone"), now=0.0)
    pay = only(moved)
    now = 0.0
    for _ in range(6):  # well past its retry policy's three sends
        now += 10.0
        moved = transition(saga, moved.state, TimersDue(), now=now)
        assert only(moved).message_id == pay.message_id
    assert moved.state.status is SagaStatus.RUNNING
    moved = transition(saga, moved.state, reply_to(pay, "p.PayRefused"), now=now)
    assert moved.state.status is SagaStatus.COMPENSATING
    assert only(moved).type == "p.UndoReserve"


def test_past_the_pivot_steps_are_retried_until_they_succeed() -> None:
    saga = pivoted_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.ReserveDone"), now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.PayDone"), now=0.0)
    assert moved.state.past_pivot
    assert "pivot_passed" in events(moved)
    assert moved.state.steps["ship"].role == "retriable"
    now = 0.0
    for _ in range(5):  # ship's policy allows two attempts; after the pivot it never gives up
        moved = transition(saga, moved.state, reply_to(only(moved), "p.ShipBusy"), now=now)
        assert moved.state.status is SagaStatus.RUNNING
        assert moved.state.steps["ship"].retrying
        assert moved.state.next_timer is not None
        assert moved.state.next_timer - now <= 4.0
        now = moved.state.next_timer
        moved = transition(saga, moved.state, TimersDue(), now=now)
    for _ in range(5):  # and a missed deadline re-sends the same attempt, forever
        attempt = only(moved)
        now += 10.0
        moved = transition(saga, moved.state, TimersDue(), now=now)
        assert only(moved).message_id == attempt.message_id
    moved = transition(saga, moved.state, reply_to(only(moved), "p.ShipDone"), now=now)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.MailDone"), now=now)
    assert moved.state.status is SagaStatus.COMPLETED
    assert all(step.compensation is None for step in moved.state.steps.values())


def test_a_compensation_success_to_an_earlier_attempt_counts() -> None:
    saga = linear_saga()
    moved = begin(saga, "s1", {}, now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.FirstDone"), now=0.0)
    moved = transition(saga, moved.state, reply_to(only(moved), "p.SecondRefused"), now=0.0)
    first_undo = only(moved)
    moved = transition(saga, moved.state, TimersDue(), now=5.0)  # no answer in time
    moved = transition(saga, moved.state, TimersDue(), now=6.0)  # retried after backoff
    assert only(moved).attempt == 2
    moved = transition(saga, moved.state, reply_to(first_undo, "p.FirstUndone"), now=7.0)
    assert moved.state.status is SagaStatus.COMPENSATED


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


def test_every_step_before_the_pivot_needs_a_compensation() -> None:
    with pytest.raises(ConfigurationError, match="reserve comes before the pivot"):
        SagaDefinition(
            "d",
            steps=(compensable("reserve", compensation=None), compensable("pay", pivot=True)),
        )
    # Without a declared pivot the last step is it, as in the original sagas.
    with pytest.raises(ConfigurationError, match="first comes before the pivot \\(last\\)"):
        SagaDefinition("d", steps=(compensable("first", compensation=None), compensable("last")))
    read_only = SagaDefinition(
        "d",
        steps=(
            compensable("check", compensation=None, read_only=True),
            compensable("pay", pivot=True),
        ),
    )
    assert read_only.role("check") is StepRole.COMPENSATABLE


def test_steps_after_the_pivot_can_be_neither_compensated_nor_refused() -> None:
    with pytest.raises(ConfigurationError, match="ship comes after the pivot"):
        SagaDefinition("d", steps=(compensable("pay", pivot=True), compensable("ship")))
    with pytest.raises(ConfigurationError, match="cannot be refused"):
        SagaDefinition(
            "d", steps=(compensable("pay", pivot=True), compensable("ship", compensation=None))
        )
    with pytest.raises(ConfigurationError, match="one pivot at most"):
        SagaDefinition("d", steps=(compensable("a", pivot=True), compensable("b", pivot=True)))
    with pytest.raises(ConfigurationError, match="in parallel"):
        SagaDefinition(
            "d", steps=(compensable("a"), Parallel(compensable("b", pivot=True), retriable("c")))
        )
    with pytest.raises(ConfigurationError, match="read_only"):
        compensable("a", read_only=True)
    saga = pivoted_saga()
    assert [saga.role(step.name).value for step in saga.all_steps] == [
        "compensatable",
        "pivot",
        "retriable",
        "retriable",
    ]
