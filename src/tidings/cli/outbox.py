"""``tidings outbox status|purge``: the relay's backlog per service, and cleanup."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import (
    ServiceOption,
    SystemOption,
    console,
    load_system,
    run_async,
    services_keeping,
)
from tidings.errors import StorageError
from tidings.outbox.cleanup import purge_published
from tidings.outbox.status import OutboxStatus, outbox_status
from tidings.settings import load_settings
from tidings.system import Service, System

outbox_app = typer.Typer(
    name="outbox", help="The transactional outbox: backlog and cleanup.", no_args_is_help=True
)


def format_age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    seconds = age.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


async def _statuses(
    system: System, services: list[Service]
) -> list[tuple[str, OutboxStatus | str]]:
    settings = load_settings()
    results: list[tuple[str, OutboxStatus | str]] = []
    for service in services:
        async with system.database(service.name, settings) as database:
            try:
                results.append((service.name, await outbox_status(database, update_metrics=False)))
            except StorageError as error:
                results.append((service.name, f"unavailable: {error}"))
    return results


@outbox_app.command("status")
def status(system: SystemOption, service: ServiceOption = None) -> None:
    """Per service: rows waiting for the relay and the age of the oldest one."""
    chosen = load_system(system)
    services = services_keeping(chosen, "outbox", service)
    if not services:
        console.print(f"system {chosen.name}: no service has an outbox")
        return
    table = Table(title=f"outbox backlog, system {chosen.name}")
    table.add_column("service")
    table.add_column("backlog", justify="right")
    table.add_column("oldest unpublished", justify="right")
    for name, outcome in run_async(_statuses(chosen, services)):
        if isinstance(outcome, str):
            table.add_row(name, "?", f"[red]{outcome}[/red]")
        else:
            table.add_row(name, str(outcome.backlog), format_age(outcome.oldest_age))
    console.print(table)


async def _purge(system: System, services: list[Service], older_than: timedelta) -> list[int]:
    settings = load_settings()
    removed = []
    for service in services:
        async with system.database(service.name, settings) as database:
            removed.append(await purge_published(database, older_than))
    return removed


@outbox_app.command("purge")
def purge(
    system: SystemOption,
    service: ServiceOption = None,
    retention_hours: Annotated[
        float, typer.Option(help="Keep published rows this many hours.")
    ] = 168.0,
) -> None:
    """Delete rows published longer ago than the retention period (unpublished rows stay)."""
    chosen = load_system(system)
    services = services_keeping(chosen, "outbox", service)
    counts = run_async(_purge(chosen, services, timedelta(hours=retention_hours)))
    for declared, removed in zip(services, counts, strict=True):
        console.print(f"{declared.name}: removed {removed} published rows")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
