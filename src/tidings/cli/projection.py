"""``tidings projection``: show each projection's checkpoint and lag, rebuild one.

A system lists its projections in ``System.extras["projections"]`` (see
:mod:`tidings.projections.registry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import SystemOption, console, load_system, run_async
from tidings.projections.checkpoints import load_checkpoint
from tidings.projections.rebuild import RebuildResult, rebuild
from tidings.projections.registry import find_projection, projections_of, service_of, store_for
from tidings.settings import load_settings
from tidings.system import System

projection_app = typer.Typer(help="Projections: status and rebuild.", no_args_is_help=True)


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    service: str
    position: int | None
    head: int
    status: str
    updated_at: datetime | None
    error: str | None

    @property
    def behind(self) -> int:
        return max(self.head - (self.position or 0), 0)


async def gather_status(system: System) -> list[ProjectionStatus]:
    """One row per declared projection: its checkpoint against its store's head."""
    settings = load_settings()
    rows: list[ProjectionStatus] = []
    for projection in projections_of(system):
        service = service_of(system, projection)
        async with system.database(service, settings) as database:
            head = await store_for(system, database).head_position()
            checkpoint = await load_checkpoint(database, projection.name)
        rows.append(
            ProjectionStatus(
                projection.name,
                service,
                checkpoint.position if checkpoint else None,
                head,
                checkpoint.status.value if checkpoint else "not started",
                checkpoint.updated_at if checkpoint else None,
                checkpoint.error if checkpoint else None,
            )
        )
    return rows


async def rebuild_named(system: System, name: str, batch_size: int) -> RebuildResult:
    projection = find_projection(system, name)
    service = service_of(system, projection)
    async with system.database(service, load_settings()) as database:
        return await rebuild(
            database, store_for(system, database), projection, batch_size=batch_size
        )


@projection_app.command("status")
def status_command(system: SystemOption) -> None:
    """Each projection's checkpoint, the store's head, and how far behind it is."""
    rows = run_async(gather_status(load_system(system)))
    if not rows:
        console.print(f"system {system} declares no projections")
        return
    table = Table("projection", "service", "status", "position", "head", "behind", "updated")
    now = datetime.now(UTC)
    for row in rows:
        age = f"{(now - row.updated_at).total_seconds():.0f}s ago" if row.updated_at else "-"
        table.add_row(
            row.name,
            row.service,
            row.status + (f" ({row.error})" if row.error else ""),
            "-" if row.position is None else str(row.position),
            str(row.head),
            str(row.behind),
            age,
        )
    console.print(table)


@projection_app.command("rebuild")
def rebuild_command(
    name: Annotated[str, typer.Argument(help="The projection to rebuild.")],
    system: SystemOption,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Events per transaction.")] = 500,
) -> None:
    """Replay every event into fresh tables beside the live ones, then swap them in."""
    result = run_async(rebuild_named(load_system(system), name, batch_size))
    console.print(
        f"rebuilt {result.projection}: {result.events} events replayed, "
        f"live from position {result.position}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(projection_app, name="projection")
