"""The ``tidings`` command: run, inspect and repair a system.

Each concern adds its commands from its own module (``tidings.cli.db``,
``tidings.cli.outbox``, ...) through a ``register(app)`` function.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from tidings.cli.common import run_command

app = typer.Typer(
    name="tidings",
    help="Data across microservices: databases, outbox, inbox, event sourcing, sagas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _environment(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Read the services' database URLs from this file first (what `tidings db "
            "provision` and `tidings up` write, .tidings/runtime.env by default); variables "
            "already set win.",
        ),
    ] = None,
) -> None:
    """Data across microservices: databases, outbox, inbox, event sourcing, sagas."""
    if env_file is None:
        return
    if not env_file.is_file():
        raise typer.BadParameter(f"{env_file} does not exist", param_hint="--env-file")
    from tidings.provisioning import load_env_file

    load_env_file(env_file, override=False)


_COMMAND_MODULES = (
    "tidings.cli.demo",
    "tidings.cli.db",
    "tidings.cli.isolation",
    "tidings.cli.ownership",
    "tidings.cli.outbox",
    "tidings.cli.inbox",
    "tidings.cli.dlq",
    "tidings.cli.projection",
    "tidings.cli.saga",
    "tidings.cli.consistency",
    "tidings.cli.run",
    "tidings.cli.bench",
)

for _module_name in _COMMAND_MODULES:
    if importlib.util.find_spec(_module_name) is not None:
        importlib.import_module(_module_name).register(app)


def main() -> None:
    run_command(app)


__all__ = ["app", "main"]
