"""``tidings demo``: run a system's demonstration on the embedded default (no servers)."""

from __future__ import annotations

import typer

from tidings.cli.common import DEFAULT_SYSTEM, SystemOption, console, load_system, run_async
from tidings.errors import ConfigurationError
from tidings.settings import load_settings


def demo(system: SystemOption = DEFAULT_SYSTEM) -> None:
    """Run the system's demo in one process: SQLite files and the in-process broker."""
    chosen = load_system(system)
    if chosen.demo is None:
        raise ConfigurationError(f"system {chosen.name} has no demo")
    console.print(f"[bold]tidings demo[/bold]: system {chosen.name} ({chosen.description})")
    run_async(chosen.demo(chosen, load_settings()))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
