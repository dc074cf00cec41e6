"""``tidings consistency check``: the table, the JSON, and the exit codes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import pytest
import typer
from consistency_testkit import (
    METADATA,
    build_system,
    change_sales,
    create_tables,
    drop_reservation,
    seed,
)
from typer.testing import CliRunner

from tidings.cli.consistency import register
from tidings.storage.database import Database
from tidings.system import System

Change = Callable[[Mapping[str, Database]], Awaitable[None]]


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``consistency`` a subcommand even when it is the only one."""

    return app


async def _prepare(urls: Mapping[str, str], change: Change | None) -> None:
    databases = {service: Database(service, url) for service, url in urls.items()}
    try:
        await create_tables(databases)
        await seed(databases)
        if change is not None:
            await change(databases)
    finally:
        for database in databases.values():
            await database.close()


def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Change | None = None) -> System:
    """The test system on SQLite files named by ``<SERVICE>_DATABASE_URL``."""
    urls = {service: f"sqlite+aiosqlite:///{tmp_path / service}.db" for service in METADATA}
    for service, url in urls.items():
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    asyncio.run(_prepare(urls, change))
    return build_system()


def test_agreeing_system_exits_zero_and_prints_sync_delays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = shop(tmp_path, monkeypatch)

    result = CliRunner().invoke(cli(), ["consistency", "check", "--system", system.name])

    assert result.exit_code == 0, result.output
    assert "3 checks ran" in result.output
    assert "0 drift found" in result.output
    assert "users.UserRegistered" in result.output
    assert "orders.OrderConfirmed" in result.output


def test_drift_exits_one_and_names_the_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def break_things(databases: Mapping[str, Database]) -> None:
        await drop_reservation(databases, "r2")
        await change_sales(databases, "2026-01-01", 1)

    system = shop(tmp_path, monkeypatch, break_things)

    result = CliRunner().invoke(cli(), ["consistency", "check", "--system", system.name])

    assert result.exit_code == 1, result.output
    assert "2 drift found" in result.output
    assert "o2, r2" in result.output
    assert "dangling" in result.output
    assert "sales-totals" in result.output


def test_json_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def break_reservation(databases: Mapping[str, Database]) -> None:
        await drop_reservation(databases, "r1")

    system = shop(tmp_path, monkeypatch, break_reservation)

    result = CliRunner().invoke(cli(), ["consistency", "check", "--system", system.name, "--json"])

    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["drifts"] == [
        {
            "check": "order-reservation",
            "kind": "dangling",
            "ids": ["o1", "r1"],
            "expected": {"id": "r1"},
            "actual": None,
            "services": ["inventory", "orders"],
        }
    ]
    assert report["sync_delays"]["users.UserRegistered"]["count"] == 2

    # The seeded deliveries were applied in 2026-01-01, long before this last hour.
    recent = CliRunner().invoke(
        cli(), ["consistency", "check", "--system", system.name, "--json", "--since-hours", "1"]
    )
    assert json.loads(recent.output)["sync_delays"] == {}


def test_an_unreachable_database_exits_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = shop(tmp_path, monkeypatch)
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv("INVENTORY_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")

    result = CliRunner().invoke(cli(), ["consistency", "check", "--system", system.name, "--json"])

    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    assert report["drifts"] == []
    assert list(report["failures"]) == ["order-reservation"]


def test_the_tidings_command_exits_non_zero_on_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real entry point (``tidings.cli.main``), in a process of its own."""

    async def break_reservation(databases: Mapping[str, Database]) -> None:
        await drop_reservation(databases, "r1")

    shop(tmp_path, monkeypatch, break_reservation)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import consistency_testkit as kit; "
        "kit.build_system('consistency_cli_test'); from tidings.cli import main; "
        "sys.argv = ['tidings', 'consistency', 'check', '--system', 'consistency_cli_test']; "
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "o1, r1" in done.stdout
