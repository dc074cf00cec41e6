"""The order-history read model (CQRS): what customers see of their orders.

A :mod:`tidings.projections` projection fed through the inbox by orders' own
published events, so it reads only what others could read too. The outcome of
an order (OrderConfirmed answers the saga, so it travels as the saga's
aggregate) may arrive before OrderPlaced: each handler writes what it knows and
never moves a final status back to pending.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, insert, select, update

from shop.contracts.base import registry
from shop.contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from shop.orders.tables import order_history
from tidings.eventstore.base import RecordedEvent
from tidings.inbox import Consumer
from tidings.projections import Projection, ProjectionContext, projection, projection_handler
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work

PENDING = "pending"
OUTCOMES = {
    "orders.OrderConfirmed": "confirmed",
    "orders.OrderRejected": "rejected",
    "orders.OrderCancelled": "cancelled",
}

_builder = projection(
    "order_history",
    [order_history],
    service="orders",
    description="each customer's orders and their status, from orders' events",
)


async def _held(ctx: ProjectionContext, order_id: str) -> bool:
    table = ctx.table(order_history)
    found = await ctx.execute(select(table.c.order_id).where(table.c.order_id == order_id))
    return found.one_or_none() is not None


@_builder.on("orders.OrderPlaced")
async def placed(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(order_history)
    data = event.data
    facts = {
        "user_id": data["user_id"],
        "total_cents": data["total_cents"],
        "currency": data["currency"],
        "items": sum(int(line["quantity"]) for line in data["lines"]),
        "placed_at": event.recorded_at,
        "updated_at": utcnow(),
    }
    if not await _held(ctx, data["order_id"]):
        await ctx.execute(insert(table).values(order_id=data["order_id"], status=PENDING, **facts))
    else:  # the outcome came first: keep its status, add the order's facts
        await ctx.execute(update(table).where(table.c.order_id == data["order_id"]).values(**facts))


@_builder.on(*OUTCOMES)
async def finished(ctx: ProjectionContext, event: RecordedEvent) -> None:
    table = ctx.table(order_history)
    order_id = str(event.data["order_id"])
    values = {
        "status": OUTCOMES[event.type],
        "reason": event.data.get("reason"),
        "updated_at": utcnow(),
    }
    if not await _held(ctx, order_id):
        await ctx.execute(insert(table).values(order_id=order_id, **values))
    else:
        await ctx.execute(update(table).where(table.c.order_id == order_id).values(**values))


ORDER_HISTORY: Projection = _builder.build()


def history_consumer(database: Database) -> Consumer:
    """Orders' consumer of its own events, feeding the read model behind the inbox."""
    consumer = Consumer("order-history", database, registry)
    handler = projection_handler(ORDER_HISTORY)
    for kind in (OrderPlaced, OrderConfirmed, OrderRejected, OrderCancelled):
        consumer.on(kind, handler)
    return consumer


class HistoryEntry(BaseModel):
    order_id: str
    status: str
    total_cents: int | None
    currency: str | None
    items: int | None
    reason: str | None


async def history_of(database: Database, user_id: str) -> list[HistoryEntry]:
    """A customer's orders as the read model shows them, newest first."""
    async with unit_of_work(database) as uow:
        rows = await uow.execute(
            select(order_history)
            .where(order_history.c.user_id == user_id)
            .order_by(func.coalesce(order_history.c.placed_at, order_history.c.updated_at).desc())
        )
        return [HistoryEntry.model_validate(dict(row._mapping)) for row in rows]
