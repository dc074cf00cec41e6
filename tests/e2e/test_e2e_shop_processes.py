"""The shop as eight processes on PostgreSQL, MariaDB and SQLite with a real broker,
driven only through HTTP: orders reach their final statuses, the services agree,
and a service killed with SIGKILL mid-load loses nothing.

RabbitMQ hands a dead consumer's unacknowledged messages to the next one at once;
JetStream redelivers them after ``ack_wait`` (10 s), inside the order saga's step
deadline, so on both brokers a killed participant's orders still end as promised.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from e2e_shop_rig import RunningShop, eventually, running_shop

from shop.serve import DECLINED, PLAIN, SCARCE, LoadMix, shop_load
from tidings.loadgen import LoadReport, LoadTarget, Outcome, run_load

MIX = LoadMix(customers=3, products=3, declined_every=5, scarce_every=6, scarce_stock=2)
ORDERS = 30


def assert_outcome(report: LoadReport, mix: LoadMix) -> None:
    """Each kind of order ended as the saga promises, exactly."""
    assert report.errors() == []
    labels = report.by_label()
    # Plentiful stock and a good card: confirmed. A declined card: stock released, cancelled.
    assert dict(labels[PLAIN]) == {"confirmed": sum(labels[PLAIN].values())}
    assert dict(labels[DECLINED]) == {"cancelled": sum(labels[DECLINED].values())}
    # The scarce product runs out: exactly its stock is sold, the rest is rejected.
    scarce = labels[SCARCE]
    assert scarce["confirmed"] == mix.scarce_stock
    assert scarce["rejected"] == sum(scarce.values()) - mix.scarce_stock > 0


def assert_final(report: LoadReport, mix: LoadMix) -> None:
    """Every order ended, none better than it could.

    After a crash a saga step may outlast its deadline (a redelivery can take that
    long), and the saga then cancels an order that would have been confirmed: that
    is a final status too, so plain orders may end cancelled here.
    """
    assert report.errors() == []
    assert set(report.by_status()) <= {"confirmed", "cancelled", "rejected"}
    labels = report.by_label()
    assert set(labels[PLAIN]) <= {"confirmed", "cancelled"}
    assert set(labels[DECLINED]) == {"cancelled"}
    assert labels[SCARCE]["confirmed"] <= mix.scarce_stock


async def load_with_a_kill(shop: RunningShop, victim: str) -> LoadReport:
    """Place ``ORDERS`` orders; once a third have finished, SIGKILL ``victim`` and
    start it again while the rest are in flight."""
    finished: list[Outcome] = []
    target = LoadTarget(urls=shop.urls, count=ORDERS, seed=1)
    async with shop_load(target, MIX) as scenario:
        load = asyncio.ensure_future(run_load(scenario, ORDERS, 6, on_outcome=finished.append))
        try:

            async def a_third_finished() -> bool:
                if load.done():
                    raise AssertionError("the load ended before the kill")
                return len(finished) >= ORDERS // 3

            await eventually(a_third_finished, 60.0, "a third of the orders to finish")
            assert await shop.supervisor.kill(victim) == -9
            await shop.supervisor.start([victim])
            await shop.supervisor.wait_ready([victim], timeout=60.0)
            return await load
        finally:
            load.cancel()


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.rabbitmq
async def test_e2e_rabbitmq_every_order_ends_after_payments_is_killed(tmp_path: Path) -> None:
    async with running_shop("rabbitmq", tmp_path) as shop:
        report = await load_with_a_kill(shop, "payments")
        assert len(report.outcomes) == ORDERS
        assert_final(report, MIX)
        assert await shop.wait_quiet() == []
        assert set((await shop.stop()).values()) == {0}  # a graceful stop, each of them


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.nats
async def test_e2e_nats_every_order_ends_after_inventory_is_killed(tmp_path: Path) -> None:
    async with running_shop("nats", tmp_path) as shop:
        report = await load_with_a_kill(shop, "inventory")
        assert len(report.outcomes) == ORDERS
        assert_final(report, MIX)
        assert await shop.wait_quiet() == []
        assert set((await shop.stop()).values()) == {0}


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.nats
async def test_e2e_nats_orders_end_as_the_saga_promises(tmp_path: Path) -> None:
    async with running_shop("nats", tmp_path) as shop:
        target = LoadTarget(urls=shop.urls, count=ORDERS, seed=2)
        async with shop_load(target, MIX) as scenario:
            report = await run_load(scenario, ORDERS, 6)
        assert len(report.outcomes) == ORDERS
        assert_outcome(report, MIX)
        assert await shop.wait_quiet() == []
        assert set((await shop.stop()).values()) == {0}
