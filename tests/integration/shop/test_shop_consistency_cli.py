"""The embedded shop, run by its demo, agrees with itself; a tampered replica is drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tidings.storage.database import Database


def _tidings(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from tidings.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TIDINGS_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("shop")
    demo = _tidings(data_dir, "demo", "--system", "shop")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "0 drift found" in demo.stdout
    return data_dir


def test_the_quiet_demo_shop_has_no_drift(demo_data: Path) -> None:
    checked = _tidings(demo_data, "consistency", "check", "--system", "shop")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 check ran on system shop: 0 drift found" in checked.stdout


async def test_a_replica_changed_behind_the_owner_s_back_is_reported(demo_data: Path) -> None:
    orders = Database("orders", f"sqlite:///{demo_data}/shop/orders.db")
    try:
        async with orders.transaction() as connection:
            await connection.execute(text("UPDATE customer_replica SET email = 'x@example.com'"))
    finally:
        await orders.close()
    checked = _tidings(demo_data, "consistency", "check", "--system", "shop")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "drift" in checked.stdout
