"""``tidings ownership``: the data ownership matrix of a system."""

from __future__ import annotations

import typer
from rich.table import Table

from tidings.cli.common import SystemOption, console, load_system
from tidings.ownership import OwnedTable, ownership_matrix
from tidings.settings import load_settings


def _label(table: OwnedTable) -> str:
    marks = [
        mark for mark, on in (("library", table.library), ("append-only", table.append_only)) if on
    ]
    return f"{table.name} ({', '.join(marks)})" if marks else table.name


def ownership_command(system: SystemOption) -> None:
    """Which service owns which database and which tables (from the declarations)."""
    chosen = load_system(system)
    table = Table(title=f"{chosen.name}: data ownership")
    for column in ("service", "database", "tables"):
        table.add_column(column, overflow="fold")
    for row in ownership_matrix(chosen, load_settings()):
        table.add_row(row.service, row.database, "\n".join(_label(t) for t in row.tables))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("ownership")(ownership_command)
