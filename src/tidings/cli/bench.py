"""``tidings bench ...``: benchmarks that print their ratio to a peer or to the raw limit.

Each benchmark is one command of the ``bench`` sub-app (``tidings bench eventstore``);
further benchmarks add their own ``@bench_app.command(...)`` here.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tidings.cli.common import console, error_console, run_async

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks on the real servers; --json prints the figures as one JSON document.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]
QuickOption = Annotated[bool, typer.Option("--quick", help="Small sizes: a smoke run.")]


@bench_app.command("eventstore")
def eventstore(
    as_json: JsonOption = False,
    quick: QuickOption = False,
    seconds: Annotated[
        float | None, typer.Option(help="Seconds per throughput measurement.")
    ] = None,
    catchup_events: Annotated[
        int | None, typer.Option(help="Events the projection catches up over (200,000).")
    ] = None,
    big_store_events: Annotated[
        int | None,
        typer.Option(
            help="Events in the store for the latency check (1,000,000; --quick 100,000)."
        ),
    ] = None,
    mariadb: Annotated[
        bool, typer.Option("--mariadb/--no-mariadb", help="Also measure MariaDB's writers.")
    ] = True,
) -> None:
    """The event store against the eventsourcing library and raw inserts, on PostgreSQL.

    --quick shrinks every size (2,000-event load, 20,000-event catch-up, 100,000-event
    latency store, one second per throughput figure).
    """
    from dataclasses import replace

    from tidings.eventstore.bench import BenchConfig, run

    config = BenchConfig.quick() if quick else BenchConfig()
    overrides: dict[str, object] = {"mariadb": mariadb}
    if seconds is not None:
        overrides["seconds"] = seconds
    if catchup_events is not None:
        overrides["catchup_events"] = catchup_events
    if big_store_events is not None:
        overrides["big_store_events"] = big_store_events
    config = replace(config, **overrides)  # type: ignore[arg-type]

    def log(line: str) -> None:
        error_console.print(f"[dim]{line}[/dim]")

    results = run_async(run(config, log))
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        if key != "config":
            console.print(f"{key:>28}  {value}")


BrokerOption = Annotated[str, typer.Option("--broker", help="rabbitmq, nats, or a broker URL.")]


def _print(results: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        console.print(f"{key:>28}  {value}")


@bench_app.command("relay")
def relay(
    broker: BrokerOption = "rabbitmq",
    events: Annotated[int, typer.Option(help="Events committed through the outbox.")] = 20_000,
    as_json: JsonOption = False,
) -> None:
    """Outbox -> relay -> broker -> inbox between two PostgreSQL databases, against the
    broker's own publish rate measured in the same run."""
    from tidings.outbox.bench import run_relay_bench

    _print(dict(run_async(run_relay_bench(broker, events=events))), as_json)


@bench_app.command("saga")
def saga(
    broker: BrokerOption = "rabbitmq",
    sagas: Annotated[int, typer.Option(help="Sagas to run to completion.")] = 2000,
    as_json: JsonOption = False,
) -> None:
    """A three-step saga over three participant services, each on its own PostgreSQL
    database, against the broker's own publish rate measured in the same run."""
    from tidings.sagas.bench import run_saga_bench

    _print(dict(run_async(run_saga_bench(broker, sagas=sagas))), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
