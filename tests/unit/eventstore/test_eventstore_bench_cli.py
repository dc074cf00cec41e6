"""The bench sub-app: its command is registered (the benchmark itself never runs here)."""

from __future__ import annotations

from types import ModuleType

import typer
from typer.testing import CliRunner

from tidings.cli.bench import bench_app, register
from tidings.eventstore.bench import GOALS, summarise


def test_bench_eventstore_is_a_subcommand() -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the group
        pass

    result = CliRunner().invoke(app, ["bench", "eventstore", "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output
    assert "--quick" in result.output
    assert any(c.name == "eventstore" for c in bench_app.registered_commands)


def test_summarise_computes_ratios_and_goals() -> None:
    results = summarise(
        {
            "append_1w": 3000.0,
            "peer_append_1w": 1000.0,
            "append_8w": 6000.0,
            "peer_append_8w": 1500.0,
            "load_events_per_s": 90_000.0,
            "peer_load_events_per_s": 30_000.0,
            "catchup_events_per_s": 20_000.0,
            "raw_insert_rows_per_s": 60_000.0,
            "append_latency_empty_ms": 2.0,
            "append_latency_full_ms": 2.2,
        }
    )
    assert results["ratio_1w"] == 3.0
    assert results["ratio_8w"] == 4.0
    assert results["ratio_catchup"] == 0.33
    assert results["append_latency_growth"] == 1.1
    assert results["goals_met"] == {
        "ratio_8w": False,
        "ratio_1w": True,
        "ratio_load": True,
        "ratio_catchup": False,
        "append_latency_growth": True,
    }
    assert set(GOALS) <= set(results["goals_met"])


def test_the_public_api_is_exported() -> None:
    import tidings.eventstore as package

    for name in package.__all__:
        assert hasattr(package, name), name
    exported = {
        name
        for name in dir(package)
        if not name.startswith("_") and not isinstance(getattr(package, name), ModuleType)
    }
    assert exported == set(package.__all__)
