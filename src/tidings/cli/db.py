"""``tidings db``: provision each service's database and roles, migrate, show versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from tidings import provisioning
from tidings.brokers.topology import remove_namespace
from tidings.cli.common import ServiceOption, SystemOption, console, load_system, run_async
from tidings.processes.stack import BROKER_ALIASES
from tidings.provisioning import load_env_file, owner_database, parse_backend
from tidings.settings import Settings, load_settings
from tidings.system import Service, System

BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        "-b",
        help="postgres, mariadb or sqlite: replaces PostgreSQL, the default server; services "
        "declared on MariaDB or SQLite keep theirs (the layout `tidings up` runs) unless "
        "--uniform. sqlite puts every service in a file.",
    ),
]
PrefixOption = Annotated[
    str | None,
    typer.Option(
        "--prefix",
        help="A copy's name, as given to `up --prefix` (databases, roles and files "
        "<prefix>_<service>); default: the system's name.",
    ),
]
UniformOption = Annotated[
    bool,
    typer.Option("--uniform", help="Every service on --backend, whatever backend it declares."),
]
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
    uniform: UniformOption = False,
    prefix: PrefixOption = None,
) -> None:
    """Create each service's database, and an owner and a runtime role on servers.

    Each service goes where `tidings up` runs it (see --backend). Idempotent. Prints
    each service and its runtime URL (password hidden), then the env file holding
    the full URLs.
    """
    settings = load_settings()
    chosen = _named(load_system(system), prefix)
    reports = run_async(
        provisioning.provision_layout(
            chosen, parse_backend(backend), settings, env_file, uniform=uniform
        )
    )
    for report in reports:
        for service in report.services:
            outcome = "; ".join(service.changes) if service.changes else "unchanged"
            # The URL's scheme names the backend the layout put the service on.
            console.print(
                f"{service.service}  {service.safe_runtime_url}  ({outcome})",
                markup=False,
                soft_wrap=True,
            )
    if not any(report.changed for report in reports):
        console.print("nothing changed: every database and role already existed", soft_wrap=True)
    env_path = reports[0].env_file if reports else (env_file or settings.env_file)
    console.print(str(env_path), markup=False, soft_wrap=True)


@db_app.command("drop")
def drop_command(
    system: SystemOption,
    backend: BackendOption = "postgres",
    yes: Annotated[bool, typer.Option("--yes", help="Really drop the data.")] = False,
    uniform: UniformOption = False,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="rabbitmq, nats or a broker URL whose topology to remove too (default: "
            "TIDINGS_BROKER_URL); `none` leaves the broker alone.",
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            envvar="TIDINGS_BROKER_NAMESPACE",
            help="The system's broker namespace (default: the system's name).",
        ),
    ] = None,
    env_file: EnvFileOption = None,
    prefix: PrefixOption = None,
) -> None:
    """Remove everything the system owns: every service's database and roles (on the
    layout of --backend), its embedded files, its queues, exchanges or streams on the
    broker, and its URLs in the env file. Prints only what existed and was removed."""
    if not yes:
        raise typer.BadParameter("dropping databases destroys their data; add --yes")
    settings = load_settings()
    chosen = _named(load_system(system), prefix)
    env_path = env_file or settings.env_file

    async def run() -> list[str]:
        removed = await provisioning.deprovision_layout(
            chosen, parse_backend(backend), settings, uniform=uniform
        )
        if broker != "none":
            url = BROKER_ALIASES.get(broker or "", broker) or settings.broker_url
            removed += await remove_namespace(url, namespace or chosen.name)
        return removed

    removed = run_async(run())
    # The roles are gone: their passwords and the services' addresses mean nothing now.
    forgotten = [
        variable
        for service in chosen.services
        for variable in (
            service.env_var,
            provisioning.owner_env_var(service),
            service.http_url_var,
        )
    ]
    known = provisioning.read_env_file(env_path)
    stale = {variable: "" for variable in forgotten if known.get(variable)}
    if stale and provisioning.write_env_file(env_path, stale):
        removed.append(f"{len(stale)} URLs in {env_path}")
    for name in removed:
        console.print(f"removed {name}", markup=False, soft_wrap=True)
    if not removed:
        console.print(f"nothing to remove: {chosen.name} owns nothing here", soft_wrap=True)


def _named(system: System, prefix: str | None) -> System:
    return replace(system, name=prefix) if prefix else system


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
