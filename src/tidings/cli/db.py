"""``tidings db``: provision each service's database and roles, migrate, show versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidings import provisioning
from tidings.cli.common import ServiceOption, SystemOption, console, load_system, run_async
from tidings.provisioning import load_env_file, owner_database, parse_backend
from tidings.settings import Settings, load_settings
from tidings.system import Service, System

BackendOption = Annotated[str, typer.Option("--backend", "-b", help="postgres, mariadb or sqlite.")]
EnvFileOption = Annotated[
    Path | None,
    typer.Option("--env-file", help="The env file of runtime URLs (default: TIDINGS_ENV_FILE)."),
]
RevisionOption = Annotated[str | None, typer.Option("--revision", "-r", help="Target revision.")]

db_app = typer.Typer(
    help="Per-service databases: provision, migrate, show versions.", no_args_is_help=True
)


def use_env_file(env_file: Path | None, settings: Settings) -> None:
    """Read the service URLs from ``env_file``, or from the provisioned default if it exists.

    An explicit file wins over the environment; the default one only fills gaps.
    """
    if env_file is not None:
        if not env_file.exists():
            raise typer.BadParameter(f"{env_file} does not exist", param_hint="--env-file")
        load_env_file(env_file, override=True)
    elif settings.env_file.exists():
        load_env_file(settings.env_file, override=False)


@db_app.command("provision")
def provision_command(
    system: SystemOption,
    backend: BackendOption = "sqlite",
    env_file: EnvFileOption = None,
) -> None:
    """Create each service's database, and an owner and a runtime role on servers.

    Idempotent. Prints each service and its runtime URL (password hidden), then the
    env file holding the full URLs.
    """
    settings = load_settings()
    report = run_async(
        provisioning.provision(load_system(system), parse_backend(backend), settings, env_file)
    )
    for service in report.services:
        outcome = "; ".join(service.changes) if service.changes else "unchanged"
        console.print(
            f"{service.service}  {service.safe_runtime_url}  ({outcome})",
            markup=False,
            soft_wrap=True,
        )
    if not report.changed:
        console.print("nothing changed: every database and role already existed", soft_wrap=True)
    console.print(str(report.env_file), markup=False, soft_wrap=True)


@db_app.command("drop")
def drop_command(
    system: SystemOption,
    backend: BackendOption,
    yes: Annotated[bool, typer.Option("--yes", help="Really drop the data.")] = False,
) -> None:
    """Drop every service's database and roles (all their data)."""
    if not yes:
        raise typer.BadParameter("dropping databases destroys their data; add --yes")
    dropped = run_async(
        provisioning.deprovision(load_system(system), parse_backend(backend), load_settings())
    )
    for name in dropped:
        console.print(f"dropped {name}", markup=False, soft_wrap=True)


def _print_revision(
    service: Service, system: System, settings: Settings, revision: str | None
) -> None:
    url = owner_database(system, service, settings).safe_url
    console.print(f"{service.name}  {revision or '(none)'}  {url}", markup=False, soft_wrap=True)


@db_app.command("upgrade")
def upgrade_command(
    system: SystemOption,
    service: ServiceOption = None,
    revision: RevisionOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Migrate each service (as its owner) and grant its runtime role."""
    settings = load_settings()
    use_env_file(env_file, settings)
    chosen = load_system(system)

    async def run() -> None:
        for each in chosen.select(service):
            reached = await provisioning.upgrade(chosen, each, settings, revision or "head")
            _print_revision(each, chosen, settings, reached)

    run_async(run())


@db_app.command("downgrade")
def downgrade_command(
    system: SystemOption,
    revision: Annotated[str, typer.Option("--revision", "-r", help="Target revision.")] = "-1",
    service: ServiceOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Migrate each service down to ``--revision`` (default: one step; ``base`` for empty)."""
    settings = load_settings()
    use_env_file(env_file, settings)
    chosen = load_system(system)

    async def run() -> None:
        for each in chosen.select(service):
            reached = await provisioning.downgrade(chosen, each, settings, revision)
            _print_revision(each, chosen, settings, reached)

    run_async(run())


@db_app.command("current")
def current_command(
    system: SystemOption,
    service: ServiceOption = None,
    env_file: EnvFileOption = None,
) -> None:
    """Show the revision each service's database is at."""
    settings = load_settings()
    use_env_file(env_file, settings)
    chosen = load_system(system)

    async def run() -> None:
        for each in chosen.select(service):
            _print_revision(
                each, chosen, settings, await provisioning.current(chosen, each, settings)
            )

    run_async(run())


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
