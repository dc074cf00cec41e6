"""``tidings consistency check``: drift between services, and sync delays per event type.

Exit codes: 0 when every check ran and found nothing, 1 when drift was found,
2 when some check could not run (and no drift was found).
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import SystemOption, console, load_system, run_async
from tidings.consistency.drift import jsonable
from tidings.consistency.report import (
    ConsistencyReport,
    check_consistency,
    declared_checks,
    inbox_services,
)
from tidings.errors import TidingsError
from tidings.settings import load_settings
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.system import System

consistency_app = typer.Typer(
    name="consistency",
    help="Compare what services hold about each other.",
    no_args_is_help=True,
)

EXIT_DRIFT = 1
EXIT_FAILED = 2


async def _report(system: System, since: datetime | None) -> ConsistencyReport:
    checks = declared_checks(system)
    wanted = {service for check in checks for service in check.services}
    wanted.update(inbox_services(system))
    settings = load_settings()
    databases: dict[str, Database] = {}
    unusable: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        for service in sorted(wanted):
            try:
                database = system.database(service, settings)
            except TidingsError as error:
                unusable[service] = str(error)
                continue
            databases[service] = await stack.enter_async_context(database)
        report = await check_consistency(system, databases, checks=checks, since=since)
    failures = {f"database {service}": reason for service, reason in unusable.items()}
    return replace(report, failures={**report.failures, **failures})


def _shown(value: object) -> str:
    if value is None:
        return "-"
    return json.dumps(jsonable(value), ensure_ascii=False, default=str)


def _print(report: ConsistencyReport) -> None:
    if report.drifts:
        table = Table(title=f"drift in system {report.system}")
        for column in ("check", "kind", "ids", "expected", "actual", "services"):
            # Fold rather than truncate: an operator copies the ids from here.
            table.add_column(column, overflow="fold")
        for drift in report.drifts:
            table.add_row(
                drift.check,
                str(drift.kind),
                ", ".join(drift.ids) or "-",
                _shown(drift.expected),
                _shown(drift.actual),
                " / ".join(drift.services),
            )
        console.print(table)
    ran = len(report.checks)
    checks = "check" if ran == 1 else "checks"
    console.print(f"{ran} {checks} ran on system {report.system}: {len(report.drifts)} drift found")
    for name, reason in report.failures.items():
        console.print(f"[red]could not check {name}:[/red] {reason}")
    if report.sync_delays:
        delays = Table(title="sync delay, commit to effect (ms)")
        delays.add_column("event type")
        for column in ("count", "p50", "p95", "p99", "max"):
            delays.add_column(column, justify="right")
        for kind, stats in report.sync_delays.items():
            delays.add_row(
                kind,
                str(stats.count),
                *(
                    f"{seconds * 1000:.1f}"
                    for seconds in (stats.p50, stats.p95, stats.p99, stats.max)
                ),
            )
        console.print(delays)
    else:
        console.print("sync delay: no consumer has applied an event yet")


@consistency_app.command("check")
def check(
    system: SystemOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    since_hours: Annotated[
        float | None,
        typer.Option("--since-hours", help="Sync delays of events applied in this window only."),
    ] = None,
) -> None:
    """Run the system's consistency checks; exit 1 on drift, 2 if a check could not run."""
    since = utcnow() - timedelta(hours=since_hours) if since_hours is not None else None
    report = run_async(_report(load_system(system), since))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _print(report)
    # SystemExit, not typer.Exit: the root's run_command(standalone_mode=False) drops
    # the code click returns for typer.Exit, and a drift must fail the caller's script.
    if report.drifts:
        raise SystemExit(EXIT_DRIFT)
    if report.failures:
        raise SystemExit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.add_typer(consistency_app, name="consistency")
