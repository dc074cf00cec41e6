"""``tidings saga``: list sagas, show one with its timeline, retry a failed compensation.

The orchestrators are found in the system's ``extras["sagas"]`` (see
:mod:`tidings.sagas.orchestrator`); each one's database is the service's usual
one (``<SERVICE>_DATABASE_URL``, else the embedded SQLite file).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import SystemOption, console, load_system, run_async
from tidings.errors import NotFound
from tidings.provisioning import load_env_file
from tidings.sagas.orchestrator import Orchestrator, orchestrator, orchestrators
from tidings.sagas.state import SagaStatus
from tidings.sagas.status import (
    SagaDetail,
    SagaSummary,
    detail_json,
    get_saga,
    list_sagas,
    summary_json,
)
from tidings.settings import Settings, load_settings
from tidings.system import System

saga_app = typer.Typer(help="Saga instances: status, timelines, retries.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OrchestratorOption = Annotated[
    str | None, typer.Option("--service", help="Only this orchestrator service.")
]


def _settings() -> Settings:
    settings = load_settings()
    if settings.env_file.exists():
        load_env_file(settings.env_file, override=False)
    return settings


def _chosen(system: System, service: str | None) -> list[Orchestrator]:
    return [orchestrator(system, service)] if service else orchestrators(system)


async def _list(
    system: System, service: str | None, status: str | None, limit: int
) -> list[tuple[str, SagaSummary]]:
    settings = _settings()
    found: list[tuple[str, SagaSummary]] = []
    for item in _chosen(system, service):
        async with system.database(item.service, settings) as database:
            for summary in await list_sagas(database, status=status, limit=limit):
                found.append((item.service, summary))
    found.sort(key=lambda pair: pair[1].updated_at, reverse=True)
    return found[:limit]


async def _find(system: System, service: str | None, saga_id: str) -> tuple[str, SagaDetail]:
    settings = _settings()
    for item in _chosen(system, service):
        async with system.database(item.service, settings) as database:
            try:
                return item.service, await get_saga(database, saga_id)
            except NotFound:
                continue
    raise NotFound(f"no saga {saga_id} in system {system.name}")


@saga_app.command("list")
def list_command(
    system: SystemOption,
    status: Annotated[
        str | None, typer.Option("--status", help="running, compensating, completed, ...")
    ] = None,
    service: OrchestratorOption = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The most recently updated sagas of every orchestrator, newest first."""
    if status is not None:
        SagaStatus(status)  # refuse a typo before connecting
    rows = run_async(_list(load_system(system), service, status, limit))
    if as_json:
        console.print_json(
            json.dumps([{"service": name, **summary_json(row)} for name, row in rows])
        )
        return
    table = Table("service", "saga", "v", "status", "in flight", "updated")
    table.add_column("id", overflow="fold")
    for name, row in rows:
        table.add_row(
            name,
            row.saga_type,
            str(row.version),
            row.status.value,
            ",".join(row.current_steps) or "-",
            row.updated_at.strftime("%H:%M:%S"),
            row.id,
        )
    console.print(table)
    console.print(f"{len(rows)} saga(s)")


@saga_app.command("show")
def show_command(
    saga_id: Annotated[str, typer.Argument(help="The saga id.")],
    system: SystemOption,
    service: OrchestratorOption = None,
    as_json: JsonOption = False,
) -> None:
    """One saga: status, data, steps, and its timeline."""
    name, detail = run_async(_find(load_system(system), service, saga_id))
    if as_json:
        console.print_json(json.dumps({"service": name, **detail_json(detail)}))
        return
    summary = detail.summary
    console.print(
        f"[bold]{summary.saga_type}[/bold] v{summary.version} {summary.id} on {name}: "
        f"[bold]{summary.status.value}[/bold]",
        soft_wrap=True,
    )
    console.print(f"correlation {summary.correlation_id}", markup=False)
    if detail.reason:
        console.print(f"reason: {detail.reason}", markup=False)
    console.print(f"data: {json.dumps(dict(detail.data), default=str)}", markup=False)
    if detail.past_pivot:
        console.print("past its pivot: it only goes forward now, to completed", markup=False)
    steps = Table("step", "role", "status", "attempts", "sends", "compensation")
    for step_name, step in detail.steps.items():
        compensation = step.get("compensation") or "-"
        if step.get("compensation_attempt"):
            compensation = f"{compensation} ({step['compensation_attempt']} attempts)"
        status = str(step["status"])
        if step.get("retrying"):
            # Sent more than once and still unanswered: a retry in progress, not a failure.
            status = f"retrying ({status})"
        steps.add_row(
            step_name,
            str(step.get("role") or "-"),
            status,
            str(step["attempt"]),
            str(step.get("sends", step["attempt"])),
            compensation,
        )
    console.print(steps)
    timeline = Table("at", "event", "step", "kind", "try", "message", "detail")
    for record in detail.timeline:
        timeline.add_row(
            record.occurred_at.strftime("%H:%M:%S.%f")[:-3],
            record.event,
            record.step or "",
            record.kind or "",
            "" if record.attempt is None else str(record.attempt),
            record.message_type or "",
            json.dumps(dict(record.detail)) if record.detail else "",
        )
    console.print(timeline)


async def _retry(system: System, service: str | None, saga_id: str, by: str) -> tuple[str, bool]:
    name, _detail = await _find(system, service, saga_id)
    item = orchestrator(system, name)
    async with system.database(name, _settings()) as database:
        moved = await item.engine(database).retry(saga_id, by=by)
    refused = any(entry.event == "retry_refused" for entry in moved.timeline)
    return moved.state.status.value, refused


@saga_app.command("retry")
def retry_command(
    saga_id: Annotated[str, typer.Argument(help="The saga id.")],
    system: SystemOption,
    service: OrchestratorOption = None,
    by: Annotated[str, typer.Option("--by", help="Who asks (goes into the timeline).")] = "cli",
) -> None:
    """Try the failed compensations of a ``compensation_failed`` saga again.

    The commands go to the orchestrator's outbox; its relay publishes them.
    """
    status, refused = run_async(_retry(load_system(system), service, saga_id, by))
    if refused:
        console.print(
            f"saga {saga_id} is {status}: only a compensation_failed saga can be retried",
            markup=False,
        )
        raise typer.Exit(1)
    console.print(f"saga {saga_id}: {status} (compensations sent again)", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(saga_app, name="saga")
