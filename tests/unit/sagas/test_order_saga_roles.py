"""The shop's order saga under the saga semantics: the confirmation is the pivot, so
an order is never confirmed while its payment is refunded or its stock released."""

from __future__ import annotations

from shop.orders.saga import order_saga
from tidings.sagas import Reply, SagaCommand, SagaStatus, StepRole, TimersDue, Transition, begin
from tidings.sagas import transition as advance

DATA = {
    "order_id": "o-1",
    "user_id": "u-1",
    "lines": [{"product_id": "p-1", "quantity": 1, "unit_price_cents": 500}],
    "total_cents": 500,
    "currency": "EUR",
    "payment_method": "card",
}


def reply(command: SagaCommand, type_: str) -> Reply:
    return Reply(
        command.saga_id, command.step, command.kind, command.attempt, type_, {}, f"r-{type_}"
    )


def only(moved: Transition) -> SagaCommand:
    assert len(moved.commands) == 1, moved.commands
    return moved.commands[0]


def test_stock_and_payment_are_compensatable_and_the_confirmation_is_the_pivot() -> None:
    saga = order_saga()
    assert [saga.role(step.name) for step in saga.all_steps] == [
        StepRole.COMPENSATABLE,
        StepRole.COMPENSATABLE,
        StepRole.PIVOT,
    ]


def test_an_unanswered_confirmation_is_sent_again_and_never_refunded() -> None:
    saga = order_saga(deadline=30.0)
    moved = begin(saga, "o-1", DATA, now=0.0)
    moved = advance(saga, moved.state, reply(only(moved), "inventory.StockReserved"), now=1.0)
    moved = advance(saga, moved.state, reply(only(moved), "payments.PaymentTaken"), now=2.0)
    confirm = only(moved)
    assert confirm.type == "orders.ConfirmOrder"
    now = 2.0
    for _ in range(10):  # the broker is away long past every budget: still no refund
        now += 30.0
        moved = advance(saga, moved.state, TimersDue(), now=now)
        assert [(c.type, c.message_id) for c in moved.commands] == [
            ("orders.ConfirmOrder", confirm.message_id)
        ]
        assert moved.state.status is SagaStatus.RUNNING
    moved = advance(saga, moved.state, reply(confirm, "orders.OrderConfirmed"), now=now)
    assert moved.state.status is SagaStatus.COMPLETED
    assert moved.state.past_pivot


def test_a_refused_confirmation_refunds_then_releases() -> None:
    saga = order_saga()
    moved = begin(saga, "o-1", DATA, now=0.0)
    moved = advance(saga, moved.state, reply(only(moved), "inventory.StockReserved"), now=1.0)
    moved = advance(saga, moved.state, reply(only(moved), "payments.PaymentTaken"), now=2.0)
    refused = reply(only(moved), "orders.OrderConfirmationRefused")  # the customer cancelled
    moved = advance(saga, moved.state, refused, now=3.0)
    assert only(moved).type == "payments.RefundPayment"
    moved = advance(saga, moved.state, reply(only(moved), "payments.PaymentRefunded"), now=4.0)
    assert only(moved).type == "inventory.ReleaseStock"
    moved = advance(saga, moved.state, reply(only(moved), "inventory.StockReleased"), now=5.0)
    assert moved.state.status is SagaStatus.COMPENSATED


def test_a_payment_that_answers_after_the_saga_gave_up_is_refunded() -> None:
    saga = order_saga(deadline=30.0)
    moved = begin(saga, "o-1", DATA, now=0.0)
    moved = advance(saga, moved.state, reply(only(moved), "inventory.StockReserved"), now=1.0)
    take = only(moved)
    for now in (31.0, 61.0, 91.0):  # three sends, then the outcome stays unknown
        moved = advance(saga, moved.state, TimersDue(), now=now)
    refund = only(moved)
    assert refund.type == "payments.RefundPayment"  # safe whether or not it was taken
    moved = advance(saga, moved.state, reply(take, "payments.PaymentTaken"), now=92.0)
    assert moved.state.steps["take_payment"].status.value == "succeeded"
    moved = advance(saga, moved.state, reply(refund, "payments.PaymentRefunded"), now=93.0)
    moved = advance(saga, moved.state, reply(only(moved), "inventory.StockReleased"), now=94.0)
    assert moved.state.status is SagaStatus.COMPENSATED
