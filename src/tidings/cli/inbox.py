"""``tidings inbox status|purge``: what each consumer has applied, and retention."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from tidings.inbox.records import (
    DEFAULT_INBOX_RETENTION,
    ConsumerRecord,
    consumer_records,
    purge_inbox,
)
from tidings.settings import load_settings
from tidings.system import Service, System

inbox_app = typer.Typer(
    name="inbox",
    help="The inbox: messages each consumer applied, and their retention.",
    no_args_is_help=True,
)


async def _records(system: System, services: list[Service]) -> list[ConsumerRecord | str]:
    settings = load_settings()
    found: list[ConsumerRecord | str] = []
    for service in services:
        async with system.database(service.name, settings) as database:
            try:
                found.extend(await consumer_records(database))
            except StorageError as error:
                found.append(f"{service.name}: unavailable: {error}")
    return found


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


@inbox_app.command("status")
def status(system: SystemOption, service: ServiceOption = None) -> None:
    """Per service and consumer: inbox rows kept, oldest and newest application."""
    chosen = load_system(system)
    services = services_keeping(chosen, "inbox", service)
    if not services:
        console.print(f"system {chosen.name}: no service has an inbox")
        return
    table = Table(title=f"inbox, system {chosen.name}")
    for column in ("service", "consumer", "rows", "oldest applied", "newest applied"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for record in run_async(_records(chosen, services)):
        if isinstance(record, str):
            table.add_row(record.split(":", 1)[0], "?", "?", f"[red]{record}[/red]", "")
        else:
            table.add_row(
                record.service,
                record.consumer,
                str(record.rows),
                _when(record.oldest),
                _when(record.newest),
            )
    console.print(table)


async def _purge(
    system: System, services: list[Service], older_than: timedelta, consumer: str | None
) -> list[int]:
    settings = load_settings()
    removed = []
    for service in services:
        async with system.database(service.name, settings) as database:
            removed.append(await purge_inbox(database, older_than, consumer=consumer))
    return removed


@inbox_app.command("purge")
def purge(
    system: SystemOption,
    service: ServiceOption = None,
    retention_days: Annotated[
        float,
        typer.Option(
            help="Keep rows applied within this many days; it must exceed the longest "
            "time a message can be redelivered (relay downtime, broker retention)."
        ),
    ] = DEFAULT_INBOX_RETENTION.total_seconds() / 86400,
    consumer: Annotated[
        str | None, typer.Option(help="Only this consumer's rows (default: every consumer).")
    ] = None,
) -> None:
    """Delete inbox rows applied longer ago than the retention period."""
    if retention_days < 0:
        raise typer.BadParameter("must not be negative", param_hint="--retention-days")
    chosen = load_system(system)
    services = services_keeping(chosen, "inbox", service)
    counts = run_async(_purge(chosen, services, timedelta(days=retention_days), consumer))
    for declared, removed in zip(services, counts, strict=True):
        console.print(f"{declared.name}: removed {removed} inbox rows")


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")
