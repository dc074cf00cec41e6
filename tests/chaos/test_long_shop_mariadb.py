"""The shop with every server-backed service on MariaDB (``tidings up --backend mariadb``):
inventory's event store, orders' saga, payments' ledger and the consumers' inboxes all
on MariaDB databases with the roles ``db provision`` makes. Orders end as the saga
promises and the services agree (no drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_shop_rig import running_shop

from shop.serve import DECLINED, PLAIN, SCARCE, LoadMix, shop_load
from shop.system import system as shop_system
from tidings.loadgen import LoadTarget, run_load
from tidings.processes.stack import backend_groups
from tidings.storage.capabilities import Backend

MIX = LoadMix(customers=2, products=2, declined_every=4, scarce_every=3, scarce_stock=1)
ORDERS = 8


def test_every_server_backed_service_goes_to_mariadb() -> None:
    groups = backend_groups(shop_system, Backend.MARIADB)
    assert set(groups) == {Backend.MARIADB, Backend.SQLITE}
    assert [service.name for service in groups[Backend.SQLITE]] == ["notifications"]
    assert "inventory" in {service.name for service in groups[Backend.MARIADB]}


@pytest.mark.mariadb
@pytest.mark.rabbitmq
async def test_e2e_orders_end_as_promised_on_mariadb(tmp_path: Path) -> None:
    async with running_shop("rabbitmq", tmp_path, backend=Backend.MARIADB) as shop:
        target = LoadTarget(urls=shop.urls, count=ORDERS, seed=3)
        async with shop_load(target, MIX) as scenario:
            report = await run_load(scenario, ORDERS, 4)
        assert report.errors() == []
        assert len(report.outcomes) == ORDERS
        labels = report.by_label()
        assert dict(labels[PLAIN]) == {"confirmed": sum(labels[PLAIN].values())}
        assert dict(labels[DECLINED]) == {"cancelled": sum(labels[DECLINED].values())}
        assert labels[SCARCE]["confirmed"] == MIX.scarce_stock
        assert await shop.wait_quiet() == []
        assert set((await shop.stop()).values()) == {0}
