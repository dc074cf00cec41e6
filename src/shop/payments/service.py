"""Payments' operations: one payment per order; every movement of money is a new
ledger row (a charge positive, a refund negative), never an edit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, func, insert, select

from shop.common.errors import Conflict
from shop.common.publishing import Publisher
from shop.contracts.payments import (
    PaymentDeclined,
    PaymentRefunded,
    PaymentTaken,
)
from shop.payments.gateway import Charge, Gateway
from shop.payments.schemas import (
    LedgerEntry,
    LedgerTotals,
    NewPayment,
    Payment,
    PaymentStatus,
    Refund,
)
from shop.payments.tables import ledger_entries, payments
from tidings import audit
from tidings.errors import IntegrityError, NotFound
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork, unit_of_work


class PaymentNotRefundable(Conflict):
    """Only a taken payment can be refunded."""


class PaymentsService:
    def __init__(self, database: Database, publisher: Publisher, gateway: Gateway) -> None:
        self.database = database
        self.publisher = publisher
        self.gateway = gateway

    async def take(self, new: NewPayment) -> tuple[Payment, bool]:
        """Charge for an order, once: ``(payment, True)`` when this call charged or
        declined, ``(the first payment, False)`` when the order already has one."""
        async with unit_of_work(self.database) as uow:
            existing = await _by_order(uow, new.order_id)
        if existing is not None:
            return existing, False
        # The card network is asked outside any transaction: no row lock waits on it.
        charge = await self.gateway.charge(new.order_id, new.amount_cents, new.currency, new.method)
        try:
            async with unit_of_work(self.database) as uow:
                payment = await self.record_in(uow, new, charge, self.publisher)
            return payment, True
        except IntegrityError:
            # A concurrent take for the same order won the unique key; theirs stands.
            async with unit_of_work(self.database) as uow:
                first = await _by_order(uow, new.order_id)
            if first is None:
                raise
            return first, False

    async def take_in(
        self, uow: UnitOfWork, new: NewPayment, publisher: Publisher
    ) -> tuple[Payment, bool]:
        """:meth:`take` inside the caller's unit of work (a consumer's, with its inbox row)."""
        existing = await _by_order(uow, new.order_id)
        if existing is not None:
            return existing, False
        charge = await self.gateway.charge(new.order_id, new.amount_cents, new.currency, new.method)
        return await self.record_in(uow, new, charge, publisher), True

    async def record_in(
        self, uow: UnitOfWork, new: NewPayment, charge: Charge, publisher: Publisher
    ) -> Payment:
        payment_id = str(uuid.uuid4())
        now = utcnow()
        status = PaymentStatus.TAKEN if charge.approved else PaymentStatus.DECLINED
        await uow.execute(
            insert(payments).values(
                id=payment_id,
                **new.model_dump(),
                status=status.value,
                reason=charge.reason,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        if charge.approved:
            await _ledger(uow, payment_id, new.order_id, "charge", new.amount_cents, new.currency)
        await audit.record(
            uow,
            action=status.value,
            entity="payment",
            entity_id=payment_id,
            data={"order_id": new.order_id, "amount_cents": new.amount_cents},
        )
        payment = await _read(uow, payment_id)
        await publisher.publish(uow, outcome_of(payment))
        return payment

    async def refund(self, payment_id: str, refund: Refund) -> Payment:
        """Refund a taken payment that is still at ``refund.version``.

        Raises :class:`PaymentNotRefundable` (a 409) unless the payment is taken.
        """
        async with unit_of_work(self.database) as uow:
            return await self.refund_in(uow, payment_id, refund, self.publisher)

    async def refund_in(
        self, uow: UnitOfWork, payment_id: str, refund: Refund, publisher: Publisher
    ) -> Payment:
        payment = await _read(uow, payment_id)
        if payment.status is not PaymentStatus.TAKEN:
            raise PaymentNotRefundable(
                f"payment {payment_id} is {payment.status.value}; only a taken one refunds"
            )
        await update_versioned(
            uow,
            payments,
            {"id": payment_id},
            refund.version,
            {"status": PaymentStatus.REFUNDED.value, "reason": refund.reason},
        )
        await _ledger(
            uow, payment_id, payment.order_id, "refund", -payment.amount_cents, payment.currency
        )
        await audit.record(
            uow,
            action="refund",
            entity="payment",
            entity_id=payment_id,
            data={"reason": refund.reason},
        )
        refunded = await _read(uow, payment_id)
        await publisher.publish(uow, outcome_of(refunded))
        return refunded

    async def by_order_in(self, uow: UnitOfWork, order_id: str) -> Payment | None:
        return await _by_order(uow, order_id)

    async def void_in(self, uow: UnitOfWork, order_id: str, reason: str) -> Payment:
        """Record that the order will never be paid, so a late TakePayment finds this
        row and declines instead of charging (the unique order id sees to it)."""
        payment_id = str(uuid.uuid4())
        now = utcnow()
        await uow.execute(
            insert(payments).values(
                id=payment_id,
                order_id=order_id,
                amount_cents=0,
                currency="XXX",
                method="none",
                status=PaymentStatus.VOIDED.value,
                reason=reason,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
        await audit.record(uow, action="void", entity="payment", entity_id=payment_id)
        return await _read(uow, payment_id)

    async def get(self, payment_id: str) -> Payment:
        async with unit_of_work(self.database) as uow:
            return await _read(uow, payment_id)

    async def page(
        self, *, order_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Payment], int]:
        where = [] if order_id is None else [payments.c.order_id == order_id]
        async with unit_of_work(self.database) as uow:
            total = (
                await uow.execute(select(func.count()).select_from(payments).where(*where))
            ).scalar_one()
            rows = await uow.execute(
                select(payments)
                .where(*where)
                .order_by(payments.c.created_at, payments.c.id)
                .limit(limit)
                .offset(offset)
            )
            return [Payment.model_validate(dict(row._mapping)) for row in rows], int(total)

    async def ledger(self, *, order_id: str | None = None) -> list[LedgerEntry]:
        where = [] if order_id is None else [ledger_entries.c.order_id == order_id]
        async with unit_of_work(self.database) as uow:
            rows = await uow.execute(
                select(ledger_entries).where(*where).order_by(ledger_entries.c.id)
            )
            return [LedgerEntry.model_validate(dict(row._mapping)) for row in rows]

    async def totals(self) -> LedgerTotals:
        amount = ledger_entries.c.amount_cents
        async with unit_of_work(self.database) as uow:
            row = (
                await uow.execute(
                    select(
                        # CASE, not FILTER: MariaDB has no aggregate FILTER clause.
                        func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
                        func.coalesce(func.sum(case((amount < 0, amount), else_=0)), 0),
                        func.count(),
                    )
                )
            ).one()
        sums: tuple[Any, ...] = tuple(row)
        charged, refunded, entries = int(sums[0]), -int(sums[1]), int(sums[2])
        return LedgerTotals(
            charged_cents=charged,
            refunded_cents=refunded,
            balance_cents=charged - refunded,
            entries=entries,
        )


def outcome_of(payment: Payment) -> PaymentTaken | PaymentDeclined | PaymentRefunded:
    """The event that tells others where ``payment`` stands."""
    if payment.status is PaymentStatus.TAKEN:
        return PaymentTaken(
            payment_id=payment.id,
            order_id=payment.order_id,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
        )
    if payment.status in (PaymentStatus.DECLINED, PaymentStatus.VOIDED):
        return PaymentDeclined(
            payment_id=payment.id, order_id=payment.order_id, reason=payment.reason or "declined"
        )
    return PaymentRefunded(
        payment_id=payment.id,
        order_id=payment.order_id,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
    )


async def _ledger(
    uow: UnitOfWork, payment_id: str, order_id: str, kind: str, amount: int, currency: str
) -> None:
    await uow.execute(
        insert(ledger_entries).values(
            payment_id=payment_id,
            order_id=order_id,
            kind=kind,
            amount_cents=amount,
            currency=currency,
            recorded_at=utcnow(),
        )
    )


async def _read(uow: UnitOfWork, payment_id: str) -> Payment:
    row = (await uow.execute(select(payments).where(payments.c.id == payment_id))).one_or_none()
    if row is None:
        raise NotFound(f"payment {payment_id} does not exist")
    return Payment.model_validate(dict(row._mapping))


async def _by_order(uow: UnitOfWork, order_id: str) -> Payment | None:
    row = (await uow.execute(select(payments).where(payments.c.order_id == order_id))).one_or_none()
    return None if row is None else Payment.model_validate(dict(row._mapping))
