"""Payments on MariaDB (its design backend), through HTTP; the ledger is append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from shop.common.auth import Role
from shop.payments.api import create_app
from shop.payments.tables import ledger_entries
from shop.testing import http_client, migrate
from tidings.errors import AppendOnlyViolation
from tidings.storage.uow import unit_of_work

pytestmark = pytest.mark.mariadb


async def test_payments_on_mariadb(make_database) -> None:
    database = await migrate(await make_database("mariadb", service="payments"), "payments")
    async with http_client(create_app(database), Role.SERVICE) as client:
        taken = await client.post("/payments", json={"order_id": "o-1", "amount_cents": 4200})
        assert taken.status_code == 201
        payment = taken.json()
        assert (
            await client.post("/payments", json={"order_id": "o-1", "amount_cents": 4200})
        ).status_code == 200
        bad = await client.post("/payments", json={"order_id": "o-2", "amount_cents": "lots"})
        assert bad.status_code == 422
        assert ["body", "amount_cents"] in [error["loc"] for error in bad.json()["detail"]]
        assert (await client.get("/payments/none")).status_code == 404
        stale = await client.post(f"/payments/{payment['id']}/refund", json={"version": 9})
        assert stale.status_code == 409
        refunded = await client.post(f"/payments/{payment['id']}/refund", json={"version": 1})
        assert refunded.json()["status"] == "refunded"
        totals = (await client.get("/ledger/totals")).json()
        assert totals == {
            "charged_cents": 4200,
            "refunded_cents": 4200,
            "balance_cents": 0,
            "entries": 2,
        }
        assert (
            "/payments/{payment_id}/refund" in (await client.get("/openapi.json")).json()["paths"]
        )
        assert (await client.get("/health/ready")).status_code == 200
    with pytest.raises(AppendOnlyViolation):
        async with unit_of_work(database) as uow:
            await uow.execute(delete(ledger_entries))
