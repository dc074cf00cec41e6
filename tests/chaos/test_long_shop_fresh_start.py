"""A shop whose data was dropped starts again from nothing: the databases, roles,
chDB files and broker topology of the first run are gone, so the second run finds
no sales, no drift and no queue of the old one. The children of a renamed copy keep
their files under the copy's own folder, which is what the drop removes."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from e2e_shop_rig import running_shop

from shop.client import operator_auth
from shop.common.auth import AuthConfig
from shop.serve import LoadMix, shop_load
from tidings.loadgen import LoadTarget, run_load

MIX = LoadMix(customers=1, products=1, declined_every=0, scarce_every=0, scarce_stock=2)
ORDERS = 3


async def sales(url: str, auth: AuthConfig) -> int:
    """Analytics' confirmed orders, read as an operator (its reports are operator-only)."""
    async with httpx.AsyncClient(base_url=url, timeout=10.0, auth=operator_auth(auth)) as analytics:
        response = await analytics.get("/sales/totals")
        response.raise_for_status()
        return int(response.json()["orders"])


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.rabbitmq
async def test_e2e_a_dropped_shop_starts_again_from_nothing(tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    chdb = tmp_path / "data" / f"e2e_{run}" / "analytics.chdb"
    async with running_shop("rabbitmq", tmp_path, run=run) as first:
        target = LoadTarget(urls=first.urls, count=ORDERS, seed=3)
        async with shop_load(target, MIX) as scenario:
            report = await run_load(scenario, ORDERS, 2)
        assert report.errors() == []
        assert await first.wait_quiet() == []
        assert (
            await sales(first.urls["analytics"], first.auth) == report.by_status()["confirmed"] > 0
        )
        assert chdb.exists()
    # Leaving the rig dropped everything, as `tidings db drop` does.
    assert not chdb.exists()

    async with running_shop("rabbitmq", tmp_path, run=run) as second:
        assert await sales(second.urls["analytics"], second.auth) == 0
        assert await second.drift() == []
        assert await second.pending() == 0
