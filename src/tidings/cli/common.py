"""What every command shares: the system option, async entry, and one-line errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from tidings.errors import TidingsError
from tidings.system import Service, System, get_system

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

T = TypeVar("T")

SystemOption = Annotated[str, typer.Option("--system", "-s", help="The system to act on.")]

#: What ``tidings demo`` and ``tidings load`` act on without ``--system``: the reference shop.
DEFAULT_SYSTEM = "shop"
ServiceOption = Annotated[
    list[str] | None, typer.Option("--service", help="Only this service (repeatable).")
]


def services_keeping(system: System, table: str, names: list[str] | None = None) -> list[Service]:
    """The services of ``system`` (or those of ``names``) whose database has library ``table``."""
    return [service for service in system.select(names) if table in service.library_tables]


def load_system(name: str) -> System:
    return get_system(name)


def run_async(awaitable: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await awaitable

    return asyncio.run(wrapper())


def run_command(app: typer.Typer) -> None:
    """Run the CLI; a tidings error is one red line and exit code 1, not a traceback."""
    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(standalone_mode=False)
    except TidingsError as error:
        error_console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        sys.exit(1)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # click's usage errors carry their own exit code
        show = getattr(error, "show", None)
        code = getattr(error, "exit_code", None)
        if show is not None and code is not None:
            show()
            sys.exit(code)
        raise
    if isinstance(code, int) and code != 0:
        sys.exit(code)
