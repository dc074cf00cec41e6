from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import typer
from outbox_support import Counted, registry
from sqlalchemy import MetaData
from typer.testing import CliRunner

from tidings.cli.outbox import format_age, register
from tidings.outbox import Relay, add
from tidings.storage.database import Database
from tidings.storage.uow import unit_of_work
from tidings.system import Service, System
from tidings.system import register as register_system
from tidings.testing.outbox import RecordingBroker, install_outbox


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so "outbox" stays a subcommand
    register(app)
    return app


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> System:
    name = f"clitest{uuid.uuid4().hex[:8]}"
    services = (
        Service("billing", MetaData(), tmp_path, library_tables=("audit_log", "outbox")),
        Service("mailer", MetaData(), tmp_path, library_tables=("audit_log", "outbox")),
        Service("plain", MetaData(), tmp_path),
    )
    for service in services:
        url = f"sqlite+aiosqlite:///{tmp_path / service.name}.db"
        monkeypatch.setenv(service.env_var, url)

    async def prepare() -> None:
        async with Database("billing", f"sqlite+aiosqlite:///{tmp_path}/billing.db") as db:
            await install_outbox(db)
            for n in range(3):
                async with unit_of_work(db) as uow:
                    await add(uow, registry, Counted(n=n), aggregate_type="k", aggregate_id="a")
        async with Database("mailer", f"sqlite+aiosqlite:///{tmp_path}/mailer.db") as db:
            await install_outbox(db)
            async with unit_of_work(db) as uow:
                await add(uow, registry, Counted(n=9), aggregate_type="k", aggregate_id="b")
            await Relay(db, RecordingBroker()).run_once()

    asyncio.run(prepare())
    return register_system(System(name, services))


def test_status_prints_backlog_per_service(system: System) -> None:
    result = CliRunner().invoke(cli(), ["outbox", "status", "--system", system.name])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    billing = next(line for line in lines if "billing" in line)
    mailer = next(line for line in lines if "mailer" in line)
    assert " 3 " in billing
    assert "s" in billing.split()[-2], "an age in seconds"
    assert " 0 " in mailer
    assert "plain" not in result.output, "a service without an outbox is not listed"


def test_status_of_one_service(system: System) -> None:
    args = ["outbox", "status", "--system", system.name, "--service", "mailer"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "billing" not in result.output
    assert "mailer" in result.output


def test_purge(system: System) -> None:
    args = ["outbox", "purge", "--system", system.name, "--retention-hours", "0"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "billing: removed 0" in result.output
    assert "mailer: removed 1" in result.output


def test_format_age() -> None:
    from datetime import timedelta

    assert format_age(None) == "-"
    assert format_age(timedelta(seconds=5)) == "5.0s"
    assert format_age(timedelta(minutes=30)) == "30.0m"
    assert format_age(timedelta(hours=5)) == "5.0h"
