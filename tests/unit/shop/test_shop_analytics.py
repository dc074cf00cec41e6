"""Analytics with embedded ClickHouse (chDB): confirmed orders become sales facts, once."""

from __future__ import annotations

from pathlib import Path

from shop.analytics.api import create_app
from shop.analytics.facts import ChdbFactStore, ClickHouseFactStore, fact_store
from shop.common.auth import Role
from shop.contracts.base import Line
from shop.contracts.orders import OrderConfirmed
from shop.testing import http_client, migrate


def confirmed(order_id: str, *lines: tuple[str, int, int]) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=order_id,
        user_id="u-1",
        lines=tuple(
            Line(product_id=product, quantity=quantity, unit_price_cents=price)
            for product, quantity, price in lines
        ),
        total_cents=sum(quantity * price for _p, quantity, price in lines),
        currency="EUR",
    )


async def test_sales_facts_in_chdb(make_database, tmp_path: Path) -> None:
    database = await migrate(await make_database("sqlite", service="analytics"), "analytics")
    facts = ChdbFactStore(tmp_path / "chdb")
    try:
        app = create_app(database, facts)
        service = app.state.analytics
        assert (
            await service.on_order_confirmed(confirmed("o-1", ("p-1", 2, 1200), ("p-2", 1, 300)))
            == 2
        )
        await service.on_order_confirmed(confirmed("o-2", ("p-1", 1, 1200)))
        # A redelivered event replaces its facts instead of adding to them.
        await service.on_order_confirmed(confirmed("o-2", ("p-1", 1, 1200)))
        async with http_client(app, Role.STAFF) as client:
            totals = (await client.get("/sales/totals")).json()
            assert totals == {"orders": 2, "units": 4, "revenue_cents": 3900}
            by_product = (await client.get("/sales/by-product")).json()
            assert [(row["product_id"], row["units"]) for row in by_product] == [
                ("p-1", 3),
                ("p-2", 1),
            ]
            ready = (await client.get("/health/ready")).json()
            assert ready["checks"] == {"database": "ok", "clickhouse": "ok"}
    finally:
        await facts.close()


async def test_quotes_in_values_cannot_break_the_insert(tmp_path: Path) -> None:
    facts = ChdbFactStore(tmp_path / "chdb")
    try:
        await facts.record([])
        tricky = confirmed("o-'); DROP TABLE x; --", ("p-\\'1", 1, 5))
        from shop.analytics.service import AnalyticsService

        await AnalyticsService(facts).on_order_confirmed(tricky)
        [row] = await facts.by_product()
        assert row.product_id == "p-\\'1"
    finally:
        await facts.close()


def test_a_server_url_selects_clickhouse_connect(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ANALYTICS_CLICKHOUSE_URL", raising=False)
    assert isinstance(fact_store(tmp_path), ChdbFactStore)
    monkeypatch.setenv("ANALYTICS_CLICKHOUSE_URL", "http://default@127.0.0.1:8123")
    store = fact_store(tmp_path)
    assert isinstance(store, ClickHouseFactStore)
    assert store.url == "http://default@127.0.0.1:8123"
