"""The parts ``tidings up`` and ``tidings load`` are made of, on small stand-ins: the
supervisor with plain Python children, the load runner with a fake scenario, and
where ``up`` puts each service's database."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable

import pytest
from e2e_shop_rig import free_port_block

from shop.system import system as shop_system
from tidings.errors import ConfigurationError
from tidings.loadgen import ERROR_STATUS, Outcome, percentile, run_load
from tidings.processes import ProcessFailed, ProcessSpec, Supervisor, service_urls
from tidings.processes.stack import backend_groups, broker_url
from tidings.settings import Settings
from tidings.storage.capabilities import Backend

STUBBORN = (
    "import pathlib, signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN);"
    " pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
)


def http_server(name: str, port: int) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=(sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
        url=f"http://127.0.0.1:{port}",
        ready_url=f"http://127.0.0.1:{port}/",
    )


async def test_e2e_supervisor_waits_ready_kills_restarts_and_stops_gracefully(tmp_path) -> None:
    port = free_port_block(1)
    spec = http_server("web", port)
    async with Supervisor([spec], stop_timeout=10.0) as supervisor:
        await supervisor.start()
        await supervisor.wait_ready(timeout=30.0)
        first = supervisor.pid("web")
        assert await supervisor.kill("web") == -signal.SIGKILL
        assert not supervisor.running("web")
        await supervisor.start(["web"])
        await supervisor.wait_ready(timeout=30.0)
        assert supervisor.pid("web") != first
        await supervisor.stop()
        # http.server ends on SIGINT's KeyboardInterrupt by itself: a graceful stop.
        assert supervisor.returncode("web") == 0


async def test_e2e_supervisor_kills_a_child_that_ignores_the_stop_signal(tmp_path) -> None:
    events: list[str] = []
    ignoring = tmp_path / "ignoring"
    spec = ProcessSpec(name="stubborn", argv=(sys.executable, "-c", STUBBORN, str(ignoring)))
    supervisor = Supervisor([spec], stop_timeout=1.0, on_event=events.append)
    await supervisor.start()
    await eventually(ignoring.exists, "the child to ignore SIGINT")
    await supervisor.stop()
    assert supervisor.returncode("stubborn") == -signal.SIGKILL
    assert events == ["stubborn did not stop within 1s: killed"]


async def test_e2e_supervisor_reports_a_child_that_exits_instead_of_getting_ready() -> None:
    port = free_port_block(1)
    failing = ProcessSpec(
        name="broken",
        argv=(sys.executable, "-c", "raise SystemExit(3)"),
        ready_url=f"http://127.0.0.1:{port}/",
    )
    async with Supervisor([failing]) as supervisor:
        await supervisor.start()
        with pytest.raises(ProcessFailed, match="broken exited with code 3"):
            await supervisor.wait_ready(timeout=30.0)


async def test_e2e_supervisor_names_the_first_child_to_exit() -> None:
    quick = ProcessSpec(name="quick", argv=(sys.executable, "-c", "pass"))
    slow = ProcessSpec(name="slow", argv=(sys.executable, "-c", "import time; time.sleep(60)"))
    async with Supervisor([quick, slow], stop_timeout=5.0) as supervisor:
        await supervisor.start()
        assert await asyncio.wait_for(supervisor.wait_any_exit(), 30.0) == "quick"
        assert supervisor.running("slow")
    assert not supervisor.running("slow")


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f}s for {what}"
        await asyncio.sleep(0.02)


class Scripted:
    """A scenario whose operation ``index`` ends as the script says, counting overlap."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0

    async def one(self, index: int) -> Outcome:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if index == 3:
                raise RuntimeError("boom")
            return Outcome("even" if index % 2 == 0 else "odd", {"op": index / 100}, label="x")
        finally:
            self.in_flight -= 1


async def test_e2e_load_runs_every_operation_with_bounded_concurrency() -> None:
    scenario = Scripted()
    seen: list[Outcome] = []
    report = await run_load(scenario, 10, 3, on_outcome=seen.append)
    assert len(report.outcomes) == len(seen) == 10
    assert scenario.most_in_flight == 3
    assert report.by_status() == {"even": 5, "odd": 4, ERROR_STATUS: 1}
    assert report.errors() == ["RuntimeError: boom"]
    assert report.percentiles("op")["max"] == 0.09
    assert report.throughput > 0


def test_e2e_percentiles_take_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (
        50.0,
        95.0,
        99.0,
    )
    assert percentile([], 0.5) == 0.0


def test_e2e_up_keeps_payments_on_mariadb_and_notifications_on_sqlite() -> None:
    groups = {
        backend: [s.name for s in services]
        for backend, services in backend_groups(shop_system, Backend.POSTGRESQL).items()
    }
    assert groups[Backend.MARIADB] == ["payments"]
    assert groups[Backend.SQLITE] == ["notifications"]
    assert len(groups[Backend.POSTGRESQL]) == 6
    everything = backend_groups(shop_system, Backend.SQLITE)
    assert list(everything) == [Backend.SQLITE]


def test_e2e_processes_need_a_shared_broker_and_consecutive_ports() -> None:
    settings = Settings(broker_url="memory://")
    assert broker_url("nats", settings) == "nats://127.0.0.1:4222"
    assert broker_url("amqp://u:p@h/", settings) == "amqp://u:p@h/"
    with pytest.raises(ConfigurationError, match="shared broker"):
        broker_url(None, settings)
    urls = service_urls(shop_system, "127.0.0.1", 9000)
    assert urls["users"] == "http://127.0.0.1:9000"
    assert urls["analytics"] == "http://127.0.0.1:9007"
