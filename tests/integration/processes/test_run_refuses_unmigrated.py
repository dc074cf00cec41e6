"""``tidings run`` on a database that was never migrated refuses to start, in one
line naming the fix, instead of logging ``no such table: outbox`` forever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shop.system import system as shop_system
from tidings import provisioning
from tidings.cli.run import _require_migrated
from tidings.errors import ConfigurationError
from tidings.settings import Settings


def _environment(data_dir: Path) -> dict[str, str]:
    # Only the embedded SQLite files of a fresh folder: no URL from the caller's shell.
    kept = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    return {**kept, "TIDINGS_DATA_DIR": str(data_dir)}


def test_run_exits_non_zero_naming_db_upgrade_on_an_unmigrated_database(
    tmp_path: Path,
) -> None:
    command = ("run", "orders", "--system", "shop", "--broker", "nats", "--port", "1")
    finished = subprocess.run(
        [sys.executable, "-c", "from tidings.cli import main; main()", *command],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    output = (finished.stdout + finished.stderr).strip()
    assert "no such table" not in output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert "orders's database has no migrations applied" in lines[0]
    assert "tidings db upgrade --system shop --service orders" in lines[0]
    assert "--migrate" in lines[0]


async def test_a_migrated_database_passes_and_an_unmigrated_one_does_not(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    orders = shop_system.service("orders")
    saved = dict(os.environ)
    os.environ.pop(orders.env_var, None)
    try:
        with pytest.raises(ConfigurationError, match="db upgrade"):
            await _require_migrated(shop_system, orders, settings)
        await provisioning.upgrade(shop_system, orders, settings)
        await _require_migrated(shop_system, orders, settings)  # no error now
    finally:
        os.environ.clear()
        os.environ.update(saved)
