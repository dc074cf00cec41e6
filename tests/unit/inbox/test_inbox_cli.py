"""``tidings inbox status|purge`` on a system whose services keep an inbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from inbox_testkit import migrate
from typer.testing import CliRunner

from tidings.cli.inbox import register
from tidings.inbox.records import applied_ids, record
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work
from tidings.system import Service, System
from tidings.system import register as register_system


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so "inbox" stays a subcommand
    register(app)
    return app


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[System, str]:
    """Service "orders": consumer "prices" applied one message 10 days ago and one now,
    consumer "customers" one 2 days ago. Service "plain" has no inbox."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    monkeypatch.setenv("ORDERS_DATABASE_URL", url)
    now = utcnow()
    applied = [("prices", "old", now - timedelta(days=10)), ("prices", "new", now)]
    applied.append(("customers", "recent", now - timedelta(days=2)))

    async def prepare() -> Service:
        async with Database("orders", url) as database:
            migrated = await migrate(database, tmp_path)
            for consumer, message_id, when in applied:
                async with unit_of_work(database) as uow:
                    await record(
                        uow,
                        consumer=consumer,
                        message_id=message_id,
                        message_type="PriceChanged",
                        committed_at=when,
                        applied_at=when,
                    )
            return migrated

    migrated = asyncio.run(prepare())
    orders = Service(
        name="orders",
        metadata=migrated.metadata,
        migrations=migrated.migrations,
        library_tables=("inbox", "dead_letters"),
    )
    plain = Service("plain", migrated.metadata, tmp_path)
    name = f"inboxcli{uuid.uuid4().hex[:8]}"
    return register_system(System(name, (orders, plain))), url


def test_status_lists_each_consumer_with_its_rows(system: tuple[System, str]) -> None:
    chosen, _url = system
    result = CliRunner().invoke(cli(), ["inbox", "status", "--system", chosen.name])
    assert result.exit_code == 0, result.output
    prices = next(line for line in result.output.splitlines() if "prices" in line)
    customers = next(line for line in result.output.splitlines() if "customers" in line)
    assert " 2 " in prices
    assert " 1 " in customers
    assert "plain" not in result.output, "a service without an inbox is not listed"


def test_purge_keeps_what_is_within_retention(system: tuple[System, str]) -> None:
    chosen, url = system
    args = ["inbox", "purge", "--system", chosen.name, "--retention-days", "7"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "orders: removed 1 inbox rows" in result.output

    async def left() -> tuple[set[str], set[str]]:
        async with Database("orders", url) as database:
            return await applied_ids(database, "prices"), await applied_ids(database, "customers")

    assert asyncio.run(left()) == ({"new"}, {"recent"})


def test_purge_of_one_consumer_leaves_the_others(system: tuple[System, str]) -> None:
    chosen, _url = system
    args = ["inbox", "purge", "--system", chosen.name, "--retention-days", "1"]
    result = CliRunner().invoke(cli(), [*args, "--consumer", "customers"])
    assert result.exit_code == 0, result.output
    assert "orders: removed 1 inbox rows" in result.output, "only customers' 2-day-old row"


def test_negative_retention_is_refused_naming_the_option(system: tuple[System, str]) -> None:
    chosen, _url = system
    args = ["inbox", "purge", "--system", chosen.name, "--retention-days", "-1"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code != 0
    assert "--retention-days" in result.output
