"""A tiny run of the event store benchmark: it runs end to end and reports every figure."""

from __future__ import annotations

import pytest

from tidings.eventstore.bench import BenchConfig, run


@pytest.mark.postgres
async def test_the_benchmark_runs_with_tiny_sizes() -> None:
    config = BenchConfig(
        seconds=0.2,
        writers=2,
        load_events=30,
        load_repeats=1,
        catchup_events=300,
        batch=100,
        big_store_events=500,
        latency_samples=3,
        mariadb=False,
    )
    results = await run(config)
    for figure in (
        "append_1w",
        "append_8w",
        "peer_append_1w",
        "peer_append_8w",
        "load_events_per_s",
        "peer_load_events_per_s",
        "catchup_events_per_s",
        "raw_insert_rows_per_s",
        "append_latency_empty_ms",
        "append_latency_full_ms",
    ):
        assert results[figure] > 0, figure
    assert results["ratio_8w"] is not None
    assert set(results["goals_met"]) >= {"ratio_1w", "ratio_8w", "ratio_load", "ratio_catchup"}
