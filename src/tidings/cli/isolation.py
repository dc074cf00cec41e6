"""``tidings isolation check``: prove no service's credentials can read another's data."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import SystemOption, console, load_system, run_async
from tidings.cli.db import EnvFileOption, UniformOption, use_env_file
from tidings.isolation import check_isolation, runtime_urls
from tidings.provisioning import parse_backend
from tidings.settings import load_settings

isolation_app = typer.Typer(
    help="Prove the services' databases are isolated.", no_args_is_help=True
)


@isolation_app.command("check")
def check_command(
    system: SystemOption,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "-b",
            help="Also require each service on the backend this layout gives it (as for "
            "`tidings up --backend`); by default check whatever the env file says runs.",
        ),
    ] = None,
    env_file: EnvFileOption = None,
    uniform: UniformOption = False,
) -> None:
    """Try every cross-service read with runtime credentials, across servers and files;
    exit 1 unless all are refused."""
    use_env_file(env_file, load_settings())
    chosen = load_system(system)
    layout_backend = parse_backend(backend) if backend is not None else None
    urls = runtime_urls(chosen, layout_backend, uniform=uniform)
    report = run_async(check_isolation(chosen, urls))
    table = Table(title=f"{chosen.name}: reading another service's database")
    for column in ("credentials of", "database of", "outcome"):
        table.add_column(column)
    for attempt in report.attempts:
        outcome = "[green]refused[/green]" if attempt.refused else "[red]ALLOWED[/red]"
        table.add_row(attempt.source, attempt.target, outcome)
    console.print(table)
    for failed in report.own_access_failures:
        console.print(
            f"[red]{failed.source} cannot read its own database[/red], so its refusals prove "
            f"nothing: {failed.detail}",
            soft_wrap=True,
        )
    for leak in (attempt for attempt in report.attempts if not attempt.refused):
        console.print(f"[red]{leak.source}'s credentials can {leak.detail}[/red]", soft_wrap=True)
    console.print(f"refused {report.refused}/{report.total}")
    if not report.isolated:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(isolation_app, name="isolation")
