"""The order saga on the design's backends: PostgreSQL for most services, MariaDB for
payments, SQLite for notifications; messages handed over without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop import consistency
from shop.analytics.facts import ChdbFactStore
from shop.common.auth import Role
from shop.runtime import Shop
from shop.system import system
from shop.testing import Pump, http_client, migrate
from tidings.storage.capabilities import Backend

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

BACKEND_NAMES = {
    Backend.POSTGRESQL: "postgres",
    Backend.MARIADB: "mariadb",
    Backend.SQLITE: "sqlite",
}


async def test_the_saga_on_postgres_and_mariadb(make_database, tmp_path: Path) -> None:
    databases = {}
    for service in system.services:
        database = await make_database(BACKEND_NAMES[service.backend], service=service.name)
        databases[service.name] = await migrate(database, service.name)
    assert databases["payments"].backend is Backend.MARIADB
    shop = Shop(databases, ChdbFactStore(tmp_path / "chdb"))
    pump = Pump(databases, shop.consumers())
    try:
        async with (
            http_client(shop.apps["users"]) as users,
            http_client(shop.apps["catalog"], Role.STAFF) as catalog,
            http_client(shop.apps["inventory"], Role.STAFF) as inventory,
            http_client(shop.apps["orders"], Role.STAFF) as orders,
        ):
            user = (
                await users.post(
                    "/users",
                    json={"email": "g@example.com", "name": "G", "password": "long enough"},
                )
            ).json()
            body = {"sku": "MUG", "name": "Mug", "price_cents": 1000}
            mug = (await catalog.post("/products", json=body)).json()
            adjust = {"delta": 2, "reason": "in"}
            assert (await inventory.post(f"/stock/{mug['id']}/adjustments", json=adjust)).is_success
            await pump.run()
            line = [{"product_id": mug["id"], "quantity": 1}]
            card = {"user_id": user["id"], "lines": line}
            declined = {**card, "payment_method": "declined"}
            first = (await orders.post("/orders", json=card)).json()
            second = (await orders.post("/orders", json=declined)).json()
            third = (await orders.post("/orders", json=card)).json()
            await pump.run()
            statuses = [
                (await orders.get(f"/orders/{placed['id']}")).json()["status"]
                for placed in (first, second, third)
            ]
        # Two mugs: the first two orders hold one each, the third finds none left; the
        # declined card then releases its mug.
        assert statuses == ["confirmed", "cancelled", "rejected"]
        assert (await shop.services().inventory.stock(mug["id"])).available == 1
        totals = await shop.services().payments.totals()
        assert (totals.charged_cents, totals.refunded_cents) == (1000, 0)
        assert await consistency.check(shop.services()) == []
    finally:
        await shop.facts.close()
