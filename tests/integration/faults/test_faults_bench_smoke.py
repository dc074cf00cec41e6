"""A smoke run of the relay benchmark (tiny sizes): it runs end to end on both
brokers and reports every figure, with nothing lost and nothing applied twice."""

from __future__ import annotations

import pytest

from tidings.outbox.bench import run_relay_bench

KEYS = {
    "relay_rate",
    "relay_ratio",
    "throughput",
    "p50_ms",
    "p99_ms",
    "raw_publish_rate",
    "ratio",
    "lost",
    "duplicate_effects",
    "p99_ms_at_half_rate",
}


@pytest.mark.postgres
@pytest.mark.parametrize(
    "broker",
    [
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
async def test_relay_bench_reports_every_figure_with_nothing_lost(broker: str) -> None:
    results = await run_relay_bench(
        broker, events=60, writers=2, consumer_processes=1, half_rate_seconds=0.3
    )
    assert set(results) >= KEYS
    assert results["lost"] == 0
    assert results["duplicate_effects"] == 0
    assert results["throughput"] > 0
    assert results["raw_publish_rate"] > 0
    assert results["relay_rate"] > 0
    assert 0 < results["p50_ms"] <= results["p99_ms"]
    assert results["ratio"] == pytest.approx(
        results["throughput"] / results["raw_publish_rate"], abs=0.001
    )
