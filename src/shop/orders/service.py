"""Orders' operations. Placing an order prices it from the replica of the catalog's
prices (orders never asks catalog), checks the customer against the replica of
users, and publishes :class:`OrderPlaced` in the same unit of work."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import func, insert, select

from shop.common.errors import Conflict, Unprocessable
from shop.common.publishing import Publisher
from shop.contracts.base import Contract, Line
from shop.contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from shop.orders.schemas import (
    Cancellation,
    Customer,
    NewOrder,
    Order,
    OrderLine,
    OrderStatus,
    Price,
)
from shop.orders.tables import customer_replica, order_lines, orders, price_replica
from tidings import audit
from tidings.errors import NotFound
from tidings.messages import caused_by
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work

StartSaga = Callable[[UnitOfWork, Order], Awaitable[None]]
"""Starts the order saga for a placed order, in the unit of work that placed it."""


class OrdersService:
    def __init__(
        self, database: Database, publisher: Publisher, start_saga: StartSaga | None = None
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.start_saga = start_saga

    async def place(self, new: NewOrder, *, actor: str = "api") -> Order:
        """Create a pending order priced from the replica.

        Raises :class:`Unprocessable` naming ``user_id`` for a customer the replica
        does not know and ``lines`` for an unknown product or mixed currencies.
        """
        if new.user_id is None:
            raise Unprocessable("user_id", "an order needs the customer it is for")
        order_id = str(uuid.uuid4())
        now = utcnow()
        async with unit_of_work(self.database) as uow:
            customer = await customer_in(uow, new.user_id)
            if customer is None:
                raise Unprocessable("user_id", f"no customer {new.user_id} is known to orders")
            prices = await _prices(uow, [line.product_id for line in new.lines])
            missing = sorted({line.product_id for line in new.lines} - set(prices))
            if missing:
                raise Unprocessable("lines", f"unknown products: {', '.join(missing)}")
            currencies = {prices[line.product_id].currency for line in new.lines}
            if len(currencies) != 1:
                raise Unprocessable("lines", f"one order, one currency (got {sorted(currencies)})")
            currency = currencies.pop()
            lines = [
                Line(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price_cents=prices[line.product_id].price_cents,
                )
                for line in new.lines
            ]
            total = sum(line.quantity * line.unit_price_cents for line in lines)
            await uow.execute(
                insert(orders).values(
                    id=order_id,
                    user_id=new.user_id,
                    status=OrderStatus.PENDING.value,
                    total_cents=total,
                    currency=currency,
                    payment_method=new.payment_method,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            await uow.execute(
                insert(order_lines),
                [
                    {"order_id": order_id, "line_no": number, **line.model_dump()}
                    for number, line in enumerate(lines, start=1)
                ],
            )
            await audit.record(uow, action="place", entity="order", entity_id=order_id, actor=actor)
            placed = await self.publisher.publish(
                uow,
                OrderPlaced(
                    order_id=order_id,
                    user_id=new.user_id,
                    lines=tuple(lines),
                    total_cents=total,
                    currency=currency,
                ),
            )
            order = await read_in(uow, order_id)
            if self.start_saga is not None:
                # The saga's first commands reach the outbox in this same transaction:
                # an order is never placed without its saga, nor a saga without its order.
                # The saga follows OrderPlaced: its flow, its commands caused by it.
                with caused_by(placed) if placed is not None else contextlib.nullcontext():
                    await self.start_saga(uow, order)
            return order

    async def get(self, order_id: str) -> Order:
        async with unit_of_work(self.database) as uow:
            return await read_in(uow, order_id)

    async def page(
        self,
        *,
        user_id: str | None = None,
        status: OrderStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Order], int]:
        where = []
        if user_id is not None:
            where.append(orders.c.user_id == user_id)
        if status is not None:
            where.append(orders.c.status == status.value)
        async with unit_of_work(self.database) as uow:
            total = (
                await uow.execute(select(func.count()).select_from(orders).where(*where))
            ).scalar_one()
            ids = (
                await uow.execute(
                    select(orders.c.id)
                    .where(*where)
                    .order_by(orders.c.created_at, orders.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).scalars()
            return [await read_in(uow, order_id) for order_id in ids], int(total)

    async def cancel(
        self, order_id: str, cancellation: Cancellation, *, actor: str = "api"
    ) -> Order:
        """The customer cancels a pending order at the version they read."""
        return await self._finish(
            order_id,
            OrderStatus.CANCELLED,
            cancellation.reason,
            expected_version=cancellation.version,
            actor=actor,
        )

    async def confirm(self, order_id: str) -> Order:
        """Confirm a pending order (the saga's last step does this through its command)."""
        return await self._finish(order_id, OrderStatus.CONFIRMED, None, actor="order-saga")

    async def _finish(
        self,
        order_id: str,
        status: OrderStatus,
        reason: str | None,
        *,
        expected_version: int | None = None,
        actor: str,
    ) -> Order:
        async with unit_of_work(self.database) as uow:
            return await finish_in(
                uow,
                order_id,
                status,
                reason,
                self.publisher,
                expected_version=expected_version,
                actor=actor,
            )

    async def customer(self, user_id: str) -> Customer:
        async with unit_of_work(self.database) as uow:
            found = await customer_in(uow, user_id)
        if found is None:
            raise NotFound(f"no customer {user_id} is replicated to orders")
        return found

    async def price(self, product_id: str) -> Price:
        async with unit_of_work(self.database) as uow:
            found = (await _prices(uow, [product_id])).get(product_id)
        if found is None:
            raise NotFound(f"no price for product {product_id} is replicated to orders")
        return found


async def finish_in(
    uow: UnitOfWork,
    order_id: str,
    status: OrderStatus,
    reason: str | None,
    publisher: Publisher,
    *,
    expected_version: int | None = None,
    actor: str,
) -> Order:
    """Move a pending order to its final ``status`` and publish the outcome, in ``uow``.

    Without ``expected_version`` (the saga's call) an order already at ``status``
    is returned unchanged; a customer's call names the version they read. An
    order no longer pending raises :class:`Conflict`.
    """
    order = await read_in(uow, order_id)
    if order.status is status and expected_version is None:
        return order  # a redelivered saga step: already done
    if order.status is not OrderStatus.PENDING:
        raise Conflict(f"order {order_id} is {order.status.value}, no longer pending")
    version = order.version if expected_version is None else expected_version
    await update_versioned(
        uow, orders, {"id": order_id}, version, {"status": status.value, "reason": reason}
    )
    await audit.record(
        uow,
        action=status.value,
        entity="order",
        entity_id=order_id,
        actor=actor,
        data={"reason": reason},
    )
    await publisher.publish(uow, outcome_of(order, status, reason))
    return await read_in(uow, order_id)


def outcome_of(order: Order, status: OrderStatus, reason: str | None) -> Contract:
    if status is OrderStatus.CONFIRMED:
        return OrderConfirmed(
            order_id=order.id,
            user_id=order.user_id,
            lines=tuple(
                Line(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                )
                for line in order.lines
            ),
            total_cents=order.total_cents,
            currency=order.currency,
        )
    if status is OrderStatus.REJECTED:
        return OrderRejected(order_id=order.id, reason=reason or "rejected")
    return OrderCancelled(order_id=order.id, reason=reason or "cancelled")


async def read_in(uow: UnitOfWork, order_id: str) -> Order:
    row = (await uow.execute(select(orders).where(orders.c.id == order_id))).one_or_none()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    lines = await uow.execute(
        select(order_lines)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    )
    return Order.model_validate(
        {
            **dict(row._mapping),
            "lines": [OrderLine.model_validate(dict(line._mapping)) for line in lines],
        }
    )


async def customer_in(uow: UnitOfWork, user_id: str) -> Customer | None:
    row = (
        await uow.execute(select(customer_replica).where(customer_replica.c.user_id == user_id))
    ).one_or_none()
    return None if row is None else Customer.model_validate(dict(row._mapping))


async def _prices(uow: UnitOfWork, product_ids: Sequence[str]) -> dict[str, Price]:
    rows = await uow.execute(
        select(price_replica).where(price_replica.c.product_id.in_(sorted(set(product_ids))))
    )
    return {row.product_id: Price.model_validate(dict(row._mapping)) for row in rows}
