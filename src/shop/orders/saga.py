"""The order saga: reserve stock, take payment, confirm; compensate in reverse.

::

    placed ─▶ reserve_stock ─▶ take_payment ─▶ confirm_order ─▶ completed ─▶ notify
                 │ rejected        │ declined / timeout   │ refused
                 ▼                 ▼                      ▼
              failed          release stock        refund payment, release stock
           (order rejected)  (order cancelled)       (order cancelled)

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
    SagaDefinition,
    SagaEngine,
    SagaStatus,
    Step,
    Transition,
)
from tidings.storage.uow import UnitOfWork

ORDER_SAGA = "shop.order"
STEP_DEADLINE = 30.0
"""Seconds a participant has to answer before the step counts as failed."""


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
                deadline=deadline,
            ),
            Step(
                "confirm_order",
                command="orders.ConfirmOrder",
                data=_confirm,
                success=("orders.OrderConfirmed",),
                failure=("orders.OrderConfirmationRefused",),
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
