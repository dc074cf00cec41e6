"""The order saga: reserve stock, take payment, confirm; compensate in reverse.

::

    placed ─▶ reserve_stock ─▶ take_payment ─▶ confirm_order (pivot) ─▶ completed ─▶ notify
                 │ rejected        │ declined / unknown      │ refused (the customer cancelled)
                 ▼                 ▼                         ▼
              failed          refund (if taken),       refund payment, release stock
           (order rejected)   release stock            (order cancelled)
                              (order cancelled)

Roles (:class:`~tidings.sagas.StepRole`): reserving stock and taking payment
are compensatable; confirming the order is the pivot, the go/no-go that orders
itself decides (a customer may cancel a pending order until then). Once the
order is confirmed nothing is undone, so no customer is told "confirmed" about
an order whose payment was refunded or stock released. The confirmation has no
compensation, so a missed deadline re-sends it until orders answers; a missed
deadline of the other steps re-sends them ``SENDS`` times in all, then gives up
and compensates them too. Both compensations are safe whether or not the action
took effect: inventory releases what the order holds, if anything, and keeps a
tombstone against a late reservation; payments refunds a taken payment, or
voids the order so a late charge is declined.

The definition is plain data (:mod:`tidings.sagas`); the engine persists each
instance in orders' database and sends commands through its outbox. The
listener keeps the order row in step with the saga in the same transaction and,
when the saga ends, asks notifications to tell the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shop.common.publishing import OutboxPublisher
from shop.contracts.base import registry
from shop.contracts.notifications import SendNotification
from shop.orders.schemas import Order, OrderStatus
from shop.orders.service import StartSaga, customer_in, finish_in, read_in
from tidings.messages import current_cause
from tidings.sagas import (
    Compensation,
    Orchestrator,
    RetryPolicy,
    SagaDefinition,
    SagaEngine,
    SagaStatus,
    Step,
    Transition,
)
from tidings.storage.uow import UnitOfWork

ORDER_SAGA = "shop.order"
STEP_DEADLINE = 30.0
"""Seconds a participant has to answer, once the command left orders' outbox,
before the command is sent again (its outcome is unknown, not failed)."""
SENDS = RetryPolicy(max_attempts=3)
"""Sends of a step's command (the same message) before the saga gives up on it."""


def _reserve(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"order_id": data["order_id"], "lines": data["lines"]}


def _release(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"order_id": data["order_id"]}


def _take(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "order_id": data["order_id"],
        "amount_cents": data["total_cents"],
        "currency": data["currency"],
        "method": data["payment_method"],
    }


def _refund(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"order_id": data["order_id"], "reason": "the order was not completed"}


def _confirm(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"order_id": data["order_id"]}


def order_saga(deadline: float = STEP_DEADLINE) -> SagaDefinition:
    """The saga's definition; ``deadline`` bounds each participant's answer."""
    return SagaDefinition(
        name=ORDER_SAGA,
        version=1,
        steps=(
            Step(
                "reserve_stock",
                command="inventory.ReserveStock",
                data=_reserve,
                success=("inventory.StockReserved",),
                failure=("inventory.StockReservationRejected",),
                compensation=Compensation(
                    "inventory.ReleaseStock",
                    data=_release,
                    success=("inventory.StockReleased",),
                    deadline=deadline,
                ),
                retry=SENDS,
                deadline=deadline,
            ),
            Step(
                "take_payment",
                command="payments.TakePayment",
                data=_take,
                success=("payments.PaymentTaken",),
                failure=("payments.PaymentDeclined",),
                compensation=Compensation(
                    "payments.RefundPayment",
                    data=_refund,
                    success=("payments.PaymentRefunded", "payments.RefundNotNeeded"),
                    deadline=deadline,
                ),
                retry=SENDS,
                deadline=deadline,
            ),
            Step(
                "confirm_order",
                command="orders.ConfirmOrder",
                data=_confirm,
                success=("orders.OrderConfirmed",),
                failure=("orders.OrderConfirmationRefused",),
                pivot=True,
                deadline=deadline,
            ),
        ),
    )


def saga_data(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "lines": [
            {
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in order.lines
        ],
        "total_cents": order.total_cents,
        "currency": order.currency,
        "payment_method": order.payment_method,
    }


def starter(engine: SagaEngine) -> StartSaga:
    """What :class:`~shop.orders.service.OrdersService` calls when an order is placed."""

    async def start(uow: UnitOfWork, order: Order) -> None:
        # The saga joins the flow in hand (the OrderPlaced it follows), if any.
        cause = current_cause()
        await engine.start(
            uow,
            ORDER_SAGA,
            saga_data(order),
            saga_id=order.id,
            correlation_id=cause.correlation_id if cause is not None else None,
        )

    return start


_OUTBOX = OutboxPublisher()


async def keep_order_in_step(uow: UnitOfWork, moved: Transition) -> None:
    """The listener: when the saga ends, finish the order and notify the customer.

    Runs inside the saga's transition, so the order's status and the saga's
    commit together. A confirmed order was finished by its confirm step.
    """
    if not moved.status_changed or moved.state.saga_type != ORDER_SAGA:
        return
    status = moved.state.status
    if status not in (SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED):
        return  # compensation_failed rests until an operator retries the saga
    order_id = str(moved.state.data["order_id"])
    reason = moved.state.reason or status.value
    order = await read_in(uow, order_id)
    if order.status is OrderStatus.PENDING and status is not SagaStatus.COMPLETED:
        final = OrderStatus.REJECTED if status is SagaStatus.FAILED else OrderStatus.CANCELLED
        order = await finish_in(uow, order_id, final, reason, _OUTBOX, actor="order-saga")
    customer = await customer_in(uow, order.user_id)
    if customer is None:
        return
    await _OUTBOX.publish(
        uow,
        SendNotification(
            idempotency_key=f"order-{order.id}-{order.status.value}",
            recipient=customer.email,
            subject=f"Your order is {order.status.value}",
            body=_message(order, customer.name),
        ),
    )


def _message(order: Order, name: str) -> str:
    total = f"{order.total_cents / 100:.2f} {order.currency}"
    if order.status is OrderStatus.CONFIRMED:
        return f"Hello {name}, your order {order.id} ({total}) is confirmed."
    return f"Hello {name}, your order {order.id} ({total}) is {order.status.value}: {order.reason}."


def orchestrator(deadline: float = STEP_DEADLINE) -> Orchestrator:
    """Orders as the order saga's orchestrator (how ``tidings saga`` finds it)."""
    return Orchestrator(
        "orders", (order_saga(deadline),), registry, listeners=(keep_order_in_step,)
    )
