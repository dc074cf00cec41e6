"""Payments over HTTP on SQLite: take once per order, declines, refunds, the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from shop.common.auth import Role
from shop.common.publishing import CollectingPublisher
from shop.contracts.payments import (
    PaymentDeclined,
    PaymentRefunded,
    PaymentTaken,
    RefundPayment,
    TakePayment,
)
from shop.payments.api import create_app
from shop.payments.consumers import commands_consumer
from shop.payments.tables import ledger_entries
from shop.testing import http_client, migrate, send
from tidings.errors import AppendOnlyViolation
from tidings.inbox import Outcome
from tidings.outbox import outbox
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work


@pytest.fixture
def published() -> CollectingPublisher:
    return CollectingPublisher()


@pytest.fixture
async def database(make_database) -> Database:
    return await migrate(await make_database("sqlite", service="payments"), "payments")


@pytest.fixture
async def client(database, published) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(create_app(database, published), Role.SERVICE) as client:
        yield client


async def take(
    client: httpx.AsyncClient, order_id: str = "o-1", method: str = "card"
) -> httpx.Response:
    return await client.post(
        "/payments", json={"order_id": order_id, "amount_cents": 2500, "method": method}
    )


async def test_a_payment_is_taken_once_per_order(client: httpx.AsyncClient, published) -> None:
    first = await take(client)
    assert first.status_code == 201
    assert first.json()["status"] == "taken"
    again = await take(client)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(published.of_type(PaymentTaken)) == 1
    totals = (await client.get("/ledger/totals")).json()
    assert totals == {
        "charged_cents": 2500,
        "refunded_cents": 0,
        "balance_cents": 2500,
        "entries": 1,
    }


async def test_a_declined_card_moves_no_money(client: httpx.AsyncClient, published) -> None:
    declined = await take(client, method="declined")
    assert declined.status_code == 201
    assert declined.json()["status"] == "declined"
    assert (await client.get("/ledger")).json() == []
    assert [e.reason for e in published.of_type(PaymentDeclined)] == ["card declined"]
    refund = await client.post(f"/payments/{declined.json()['id']}/refund", json={"version": 1})
    assert refund.status_code == 409


async def test_a_refund_is_a_new_negative_ledger_entry(
    client: httpx.AsyncClient, published
) -> None:
    payment = (await take(client)).json()
    refunded = await client.post(f"/payments/{payment['id']}/refund", json={"version": 1})
    assert refunded.status_code == 200
    assert refunded.json()["status"] == "refunded"
    ledger = (await client.get("/ledger", params={"order_id": "o-1"})).json()
    assert [(e["kind"], e["amount_cents"]) for e in ledger] == [("charge", 2500), ("refund", -2500)]
    assert (await client.get("/ledger/totals")).json()["balance_cents"] == 0
    assert len(published.of_type(PaymentRefunded)) == 1
    twice = await client.post(f"/payments/{payment['id']}/refund", json={"version": 2})
    assert twice.status_code == 409


async def test_a_stale_refund_is_409(client: httpx.AsyncClient) -> None:
    payment = (await take(client)).json()
    stale = await client.post(f"/payments/{payment['id']}/refund", json={"version": 5})
    assert stale.status_code == 409
    assert stale.json()["actual_version"] == 1


async def test_validation_and_missing(client: httpx.AsyncClient) -> None:
    bad = await client.post("/payments", json={"order_id": "o", "amount_cents": 0})
    assert bad.status_code == 422
    assert ["body", "amount_cents"] in [error["loc"] for error in bad.json()["detail"]]
    assert (await client.get("/payments/nope")).status_code == 404
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/payments", "/payments/{payment_id}/refund", "/ledger/totals"} <= set(paths)


async def test_the_database_refuses_to_edit_the_ledger(client: httpx.AsyncClient, database) -> None:
    await take(client)
    with pytest.raises(AppendOnlyViolation):
        async with unit_of_work(database) as uow:
            await uow.execute(update(ledger_entries).values(amount_cents=1))


async def test_commands_through_the_inbox_charge_once(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="payments"), "payments")
    service = create_app(database).state.payments
    consumer = commands_consumer(service)
    take = TakePayment(order_id="o-9", amount_cents=700, currency="EUR", method="card")
    assert await send(consumer, take, message_id="c-1") == Outcome.APPLIED
    assert await send(consumer, take, message_id="c-1") == Outcome.DUPLICATE
    assert await send(consumer, take, message_id="c-2") == Outcome.APPLIED  # a saga retry
    await send(consumer, RefundPayment(order_id="o-9", reason="stock gone"))
    await send(consumer, RefundPayment(order_id="o-9", reason="stock gone"))
    # A refund for an order never paid voids it: a late TakePayment is declined.
    await send(consumer, RefundPayment(order_id="o-late", reason="timed out"))
    await send(
        consumer, TakePayment(order_id="o-late", amount_cents=5, currency="EUR", method="card")
    )
    assert (await service.totals()).model_dump() == {
        "charged_cents": 700,
        "refunded_cents": 700,
        "balance_cents": 0,
        "entries": 2,
    }
    async with database.connect() as connection:
        types = list(
            (await connection.execute(select(outbox.c.type).order_by(outbox.c.seq))).scalars()
        )
    assert types == [
        "payments.PaymentTaken",
        "payments.PaymentTaken",
        "payments.PaymentRefunded",
        "payments.PaymentRefunded",
        "payments.RefundNotNeeded",
        "payments.PaymentDeclined",
    ]
