"""The reconciler across real servers: each service on its own database and backend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from consistency_testkit import (
    METADATA,
    build_system,
    change_sales,
    create_tables,
    drop_customer,
    drop_reservation,
    rename_customer,
    seed,
)
from typer.testing import CliRunner

from tidings.consistency import DriftKind, check_consistency
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.testing.databases import BACKENDS, create_database, drop_database, unique_name

ALL_POSTGRES = {service: "postgres" for service in METADATA}
# Replica and owner on different backends, and totals compared across three.
MIXED = {"users": "postgres", "orders": "sqlite", "inventory": "postgres", "analytics": "mariadb"}


@pytest.fixture(
    params=[
        pytest.param(ALL_POSTGRES, id="postgres", marks=pytest.mark.postgres),
        pytest.param(MIXED, id="mixed", marks=[pytest.mark.postgres, pytest.mark.mariadb]),
    ]
)
async def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[dict[str, Database]]:
    """Each service on a fresh database of its backend, created and dropped concurrently
    (a server database takes about a second each way)."""
    backends = {service: BACKENDS[name] for service, name in request.param.items()}
    names = {service: unique_name() for service in backends}
    on_servers = {s: b for s, b in backends.items() if b is not Backend.SQLITE}
    urls = dict(
        zip(
            on_servers,
            await asyncio.gather(*(create_database(b, names[s]) for s, b in on_servers.items())),
            strict=True,
        )
    )
    found = {
        service: Database(
            service, urls.get(service) or f"sqlite+aiosqlite:///{tmp_path}/{service}.db"
        )
        for service in backends
    }
    try:
        await create_tables(found)
        await seed(found)
        yield found
    finally:
        for database in found.values():
            await database.close()
        await asyncio.gather(*(drop_database(b, names[s]) for s, b in on_servers.items()))


async def test_agreeing_services_show_no_drift(databases: Mapping[str, Database]) -> None:
    report = await check_consistency(build_system(), databases)

    assert report.ok, report.to_dict()
    assert report.sync_delays["users.UserRegistered"].count == 2


async def test_each_drift_is_reported_with_its_ids(databases: Mapping[str, Database]) -> None:
    await drop_customer(databases, "u2")
    await rename_customer(databases, "u1", "ada@old.example.com")
    await change_sales(databases, "2026-01-01", 1000)
    await drop_reservation(databases, "r1")

    report = await check_consistency(build_system(), databases)

    found = {(drift.check, drift.kind, drift.ids): drift for drift in report.drifts}
    assert set(found) == {
        ("customer-replica", DriftKind.MISSING, ("u2",)),
        ("customer-replica", DriftKind.DIFFERENT, ("u1",)),
        ("sales-totals", DriftKind.DIFFERENT, ()),
        ("order-reservation", DriftKind.DANGLING, ("o1", "r1")),
    }
    totals = found[("sales-totals", DriftKind.DIFFERENT, ())]
    assert totals.to_dict()["expected"] == {"revenue": 1950}
    assert totals.to_dict()["actual"] == {"revenue": 1700}
    assert report.failures == {}


async def test_cli_reads_each_service_from_its_own_url(
    databases: Mapping[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_consistency_cli import cli

    for service, database in databases.items():
        url = database.url.render_as_string(hide_password=False)
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    system = build_system()
    runner = CliRunner()

    # The command runs its own event loop, so it runs in a thread of its own here.
    clean = await asyncio.to_thread(
        runner.invoke, cli(), ["consistency", "check", "--system", system.name, "--json"]
    )
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["ok"] is True

    await drop_reservation(databases, "r2")
    drifted = await asyncio.to_thread(
        runner.invoke, cli(), ["consistency", "check", "--system", system.name]
    )
    assert drifted.exit_code == 1, drifted.output
    assert "o2, r2" in drifted.output
