"""``tidings run``, ``tidings up`` and ``tidings load``: a system as processes.

``run`` serves one service in this process through the system's serve hook, and
refuses to start on a database that is not migrated; ``up`` checks the broker and
the database servers, provisions and migrates every database, then supervises each
service as its own ``tidings run`` child until Ctrl-C (a child that exits is
restarted, one in a crash loop is held back); ``load`` drives a running system's
HTTP APIs.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tidings.cli.common import DEFAULT_SYSTEM, SystemOption, console, load_system, run_async
from tidings.errors import ConfigurationError
from tidings.loadgen import LoadReport, LoadTarget, Outcome, load_hook, run_load
from tidings.processes import (
    ProcessSpec,
    ServeRequest,
    Supervisor,
    run_until_signalled,
    serve_hook,
    service_urls,
)
from tidings.processes.stack import broker_url, check_servers, prepare, process_specs
from tidings.processes.supervisor import RestartPolicy
from tidings.provisioning import load_env_file, parse_backend, write_env_file
from tidings.settings import Settings, load_settings
from tidings.system import Service, System

NAMESPACE_VARIABLE = "TIDINGS_BROKER_NAMESPACE"

EnvFileOption = Annotated[
    Path | None,
    typer.Option("--env-file", help="Read <SERVICE>_DATABASE_URL and friends from this file."),
]
BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="rabbitmq, nats or a broker URL (default: TIDINGS_BROKER_URL; for up, rabbitmq "
        "when that is memory://).",
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        envvar=NAMESPACE_VARIABLE,
        help="Broker namespace the system's processes share (default: the system's name).",
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="The address to listen on.")]
PoolSizeOption = Annotated[
    int, typer.Option("--pool-size", help="Database connections per service (and overflow).")
]
BasePortOption = Annotated[
    int, typer.Option("--base-port", help="The first service's port; the next ones follow.")
]


def _settings(env_file: Path | None, broker: str | None) -> Settings:
    if env_file is not None:
        if not env_file.exists():
            raise typer.BadParameter(f"{env_file} does not exist", param_hint="--env-file")
        load_env_file(env_file, override=True)
    settings = load_settings()
    if broker is not None:
        settings = settings.model_copy(update={"broker_url": broker_url(broker, settings)})
    return settings


def run(
    service: Annotated[str, typer.Argument(help="The service to run.")],
    system: SystemOption,
    port: Annotated[int, typer.Option("--port", help="The HTTP port.")] = 8000,
    host: HostOption = "0.0.0.0",
    broker: BrokerOption = None,
    namespace: NamespaceOption = None,
    env_file: EnvFileOption = None,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Upgrade the service's database first.")
    ] = False,
    pool_size: PoolSizeOption = 5,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="The copy's name, as given to `up --prefix`: its files live under "
            "<data dir>/<prefix>/, where `db drop --prefix` finds them.",
        ),
    ] = None,
) -> None:
    """Run one service in this process: HTTP, relay, consumers, workers; stop on SIGTERM."""
    loaded = load_system(system)
    chosen = replace(loaded, name=prefix) if prefix else loaded
    declared = chosen.service(service)
    settings = _settings(env_file, broker)
    hook = serve_hook(chosen)
    request = ServeRequest(
        system=chosen,
        service=declared.name,
        settings=settings,
        host=host,
        port=port,
        namespace=namespace or chosen.name,
        pool_size=pool_size,
    )

    async def main() -> None:
        if migrate:
            from tidings import provisioning

            await provisioning.upgrade(chosen, declared, settings)
        else:
            await _require_migrated(chosen, declared, settings)
        await hook(request)

    if run_until_signalled(main()):
        console.print(f"{service} stopped", markup=False)


async def _require_migrated(system: System, service: Service, settings: Settings) -> None:
    """ConfigurationError unless the service's database is at its migrations' head.

    A service on an unmigrated database would fail on every request and every relay
    poll (``no such table: outbox``) for as long as it runs; refusing to start says so
    once, with the command that fixes it.
    """
    from tidings.migrations import runner

    heads = runner.heads(service)
    async with system.database(service.name, settings) as database:
        revision = await runner.current(database, service)
    if revision not in heads:
        state = "has no migrations applied" if revision is None else f"is at {revision}"
        raise ConfigurationError(
            f"{service.name}'s database {state}, not at {', '.join(heads)}: run "
            f"`tidings db upgrade --system {system.name} --service {service.name}` "
            "first, or start it with --migrate"
        )


def up(
    system: SystemOption,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            "-b",
            help="postgres, mariadb or sqlite (services declared on MariaDB or SQLite keep "
            "theirs unless --uniform; the layout `tidings db provision` makes).",
        ),
    ] = "postgres",
    uniform: Annotated[
        bool,
        typer.Option("--uniform", help="Every service on --backend, whatever it declares."),
    ] = False,
    broker: BrokerOption = None,
    base_port: BasePortOption = 8100,
    host: HostOption = "127.0.0.1",
    namespace: NamespaceOption = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", help="Where provisioning writes the URLs (default: TIDINGS_ENV_FILE)."
        ),
    ] = None,
    ready_timeout: Annotated[
        float, typer.Option("--ready-timeout", help="Seconds each service has to get ready.")
    ] = 120.0,
    pool_size: PoolSizeOption = 5,
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="Name databases and roles <prefix>_<service> (default: the system's name), "
            "e.g. to run a second copy on the same servers.",
        ),
    ] = None,
) -> None:
    """Provision, migrate and run every service as its own process until Ctrl-C."""
    loaded = load_system(system)
    # A renamed copy names the databases; the children still load the system by its name.
    chosen = replace(loaded, name=prefix) if prefix else loaded
    settings = load_settings()
    if broker is None and settings.broker_url.startswith("memory:"):
        broker = "rabbitmq"  # the in-process broker cannot join processes
    broker_to_use = broker_url(broker, settings)
    chosen_backend = parse_backend(backend)
    env_path = env_file or settings.env_file
    log_dir = settings.data_dir / chosen.name / "logs"

    async def main() -> None:
        await check_servers(chosen, chosen_backend, broker_to_use, settings, uniform=uniform)
        placed = await prepare(chosen, chosen_backend, settings, env_path, uniform=uniform)
        console.print(
            f"migrated {len(placed)} databases: "
            + ", ".join(f"{name} on {kind}" for name, kind in placed.items()),
            markup=False,
            soft_wrap=True,
        )
        specs = process_specs(
            chosen,
            host=host,
            base_port=base_port,
            env_file=env_path.resolve(),
            broker=broker_to_use,
            namespace=namespace or chosen.name,
            log_dir=log_dir,
            cli_system=loaded.name,
            pool_size=pool_size,
        )
        # Operator commands run elsewhere (`tidings --env-file ... consistency check`)
        # find each service's HTTP API here, beside its database URL.
        by_name = {service.name: service for service in chosen.services}
        urls = {by_name[spec.name].http_url_var: spec.url or "" for spec in specs}
        write_env_file(env_path, urls)
        try:
            await _supervise(specs, log_dir, ready_timeout)
        finally:
            # Stopped: nothing answers there any more.
            write_env_file(env_path, dict.fromkeys(urls, ""))

    signalled = run_until_signalled(main())
    if signalled:
        console.print("stopped every service")


async def _supervise(specs: list[ProcessSpec], log_dir: Path, ready_timeout: float) -> None:
    """Start the processes, print where they answer, keep them running until Ctrl-C."""
    async with Supervisor(specs, on_event=_print_event) as sv:
        await sv.start()
        for spec in specs:
            console.print(f"{spec.name:<14} {spec.url}  (pid {sv.pid(spec.name)})", markup=False)
        console.print(f"logs in {log_dir}", markup=False, soft_wrap=True)
        # Restarts begin at once: a service that crashes while the others get ready is
        # started again rather than stopping them all.
        keeping = asyncio.ensure_future(sv.supervise(RestartPolicy()))
        try:
            await _announce_ready(sv, len(specs), ready_timeout)
            await keeping
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping


async def _announce_ready(sv: Supervisor, count: int, ready_timeout: float) -> None:
    try:
        ready = await sv.wait_ready(timeout=ready_timeout, restarting=True)
    except TimeoutError as error:
        # Slow, not dead: the supervisor keeps every service running regardless.
        console.print(f"{error}; still running them; Ctrl-C stops all", markup=False)
        return
    if len(ready) == count:
        console.print("[bold]all services ready[/bold]; Ctrl-C stops them")
    else:
        held = ", ".join(sorted(sv.held))
        console.print(
            f"[bold]{len(ready)} of {count} services ready[/bold] ({held} held back); "
            "Ctrl-C stops them"
        )


def _print_event(line: str) -> None:
    console.print(line, markup=False, soft_wrap=True)


def load(
    system: SystemOption = DEFAULT_SYSTEM,
    orders: Annotated[int, typer.Option("--orders", "-n", help="How many operations.")] = 100,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Clients.")] = 8,
    base_port: BasePortOption = 8100,
    host: Annotated[str, typer.Option("--host", help="Where the services listen.")] = "127.0.0.1",
    url: Annotated[
        list[str] | None,
        typer.Option("--url", help="SERVICE=URL for a service elsewhere (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Makes the mix repeatable.")] = 0,
) -> None:
    """Drive a running system's HTTP APIs; print throughput and latency percentiles."""
    chosen = load_system(system)
    hook = load_hook(chosen)
    urls = service_urls(chosen, host, base_port)
    for item in url or []:
        name, separator, address = item.partition("=")
        if not separator or name not in urls:
            raise typer.BadParameter(f"{item!r}: use SERVICE=URL for a service of {chosen.name}")
        urls[name] = address.rstrip("/")

    async def main() -> LoadReport:
        target = LoadTarget(urls=urls, count=orders, seed=seed)
        console.print(f"setting up {chosen.name}'s data for the load through its APIs")
        async with hook(target) as scenario:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("operations", total=orders)

                def advance(_outcome: Outcome) -> None:
                    progress.advance(task)

                return await run_load(scenario, orders, concurrency, on_outcome=advance)

    report = run_async(main())
    print_report(report)
    if report.errors():
        raise SystemExit(1)


def print_report(report: LoadReport) -> None:
    console.print(
        f"{len(report.outcomes)} operations in {report.elapsed:.1f}s: {report.throughput:.1f}/s",
        markup=False,
    )
    latency = Table(title="latency (ms)")
    latency.add_column("phase")
    for column in ("p50", "p95", "p99", "max"):
        latency.add_column(column, justify="right")
    for phase in report.phases():
        values = report.percentiles(phase)
        latency.add_row(
            phase, *(f"{values[key] * 1000:.1f}" for key in ("p50", "p95", "p99", "max"))
        )
    console.print(latency)
    statuses = Table(title="by final status")
    statuses.add_column("status")
    statuses.add_column("count", justify="right")
    for status, count in report.by_status().most_common():
        statuses.add_row(status, str(count))
    console.print(statuses)
    for detail in report.errors()[:5]:
        console.print(f"[red]error:[/red] {detail}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("up")(up)
    app.command("load")(load)
