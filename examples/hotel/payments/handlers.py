"""The payments service's command handlers, with a pretend card gateway.

Cards: ``declined...`` is refused for good; ``flaky...`` meets an unavailable
gateway on its first two attempts (a transient failure the saga retries); any
other card is charged. Charging and refunding are idempotent per booking.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update

from examples.hotel.contracts import (
    PaymentDeclined,
    PaymentGatewayUnavailable,
    PaymentProcessed,
    PaymentRefunded,
    ProcessPayment,
    RefundPayment,
    registry,
)
from examples.hotel.payments.tables import charge_attempts, payments
from tidings.inbox import Consumer
from tidings.messages import Envelope
from tidings.sagas import send_reply
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

FLAKY_FAILURES = 2


async def _count_attempt(uow: UnitOfWork, booking_id: str) -> int:
    row = (
        await uow.execute(
            select(charge_attempts.c.attempts).where(charge_attempts.c.booking_id == booking_id)
        )
    ).scalar_one_or_none()
    if row is None:
        await uow.execute(insert(charge_attempts).values(booking_id=booking_id, attempts=1))
        return 1
    await uow.execute(
        update(charge_attempts)
        .where(charge_attempts.c.booking_id == booking_id)
        .values(attempts=int(row) + 1)
    )
    return int(row) + 1


async def process(uow: UnitOfWork, command: ProcessPayment, envelope: Envelope) -> None:
    existing = (
        await uow.execute(select(payments).where(payments.c.booking_id == command.booking_id))
    ).one_or_none()
    if existing is not None:
        answer: PaymentProcessed | PaymentDeclined
        if existing.status == "charged":
            answer = PaymentProcessed(booking_id=command.booking_id, payment_id=existing.payment_id)
        else:
            answer = PaymentDeclined(booking_id=command.booking_id, reason="already refunded")
        await send_reply(uow, registry, answer, to=envelope)
        return
    attempt = await _count_attempt(uow, command.booking_id)
    if command.card.startswith("declined"):
        reply = PaymentDeclined(booking_id=command.booking_id, reason="card declined")
        await send_reply(uow, registry, reply, to=envelope)
        return
    if command.card.startswith("flaky") and attempt <= FLAKY_FAILURES:
        busy = PaymentGatewayUnavailable(booking_id=command.booking_id, attempt=attempt)
        await send_reply(uow, registry, busy, to=envelope)
        return
    payment_id = str(uuid.uuid4())
    await uow.execute(
        insert(payments).values(
            booking_id=command.booking_id,
            payment_id=payment_id,
            amount_cents=command.amount_cents,
            status="charged",
            updated_at=utcnow(),
        )
    )
    processed = PaymentProcessed(booking_id=command.booking_id, payment_id=payment_id)
    await send_reply(uow, registry, processed, to=envelope)


async def refund(uow: UnitOfWork, command: RefundPayment, envelope: Envelope) -> None:
    changed = await uow.execute(
        update(payments)
        .where(payments.c.booking_id == command.booking_id)
        .values(status="refunded", updated_at=utcnow())
    )
    if getattr(changed, "rowcount", 0) == 0:
        await uow.execute(
            insert(payments).values(
                booking_id=command.booking_id,
                payment_id=None,
                amount_cents=0,
                status="refunded",
                updated_at=utcnow(),
            )
        )
    await send_reply(uow, registry, PaymentRefunded(booking_id=command.booking_id), to=envelope)


async def attempts_of(database: Database, booking_id: str) -> int:
    async with database.connect() as connection:
        value = (
            await connection.execute(
                select(charge_attempts.c.attempts).where(charge_attempts.c.booking_id == booking_id)
            )
        ).scalar_one_or_none()
    return int(value or 0)


def commands_consumer(database: Database) -> Consumer:
    consumer = Consumer("commands", database, registry)
    consumer.on(ProcessPayment, process)
    consumer.on(RefundPayment, refund)
    return consumer
