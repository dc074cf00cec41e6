"""The supervisor keeps a system's processes running: a child that dies is started
again on the same port with growing backoff, a crash loop is held back with its log
shown while the others run on, and Ctrl-C still stops everything cleanly."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tidings.processes import ProcessSpec, RestartPolicy, Supervisor
from tidings.testing.faults import kill_service, wait_restarted

QUICK = RestartPolicy(initial_delay=0.2, max_delay=2.0, crash_limit=4, crash_window=60.0)
TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_server(name: str, port: int, log: Path | None = None) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=(sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
        url=f"http://127.0.0.1:{port}",
        ready_url=f"http://127.0.0.1:{port}/",
        log_path=log,
    )


def crashing(name: str, starts: Path, log: Path) -> ProcessSpec:
    """Notes the time it started in ``starts``, prints a line and exits with 3."""
    script = (
        "import sys, time; open(sys.argv[1], 'a').write(f'{time.monotonic()}\\n');"
        " print('cannot open the database: no such table: outbox', flush=True);"
        " raise SystemExit(3)"
    )
    never = f"http://127.0.0.1:{free_port()}/"  # it never gets as far as serving
    return ProcessSpec(
        name=name,
        argv=(sys.executable, "-c", script, str(starts)),
        ready_url=never,
        log_path=log,
    )


async def eventually(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    interval = 0.02
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f}s for {what}"
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 0.5)


async def test_a_killed_child_is_restarted_on_its_port_while_the_other_runs(
    tmp_path: Path,
) -> None:
    events: list[str] = []
    web, other = http_server("web", free_port()), http_server("other", free_port())
    async with Supervisor([web, other], on_event=events.append) as supervisor:
        await supervisor.start()
        await supervisor.wait_ready(timeout=TIMEOUT)
        keeping = asyncio.ensure_future(supervisor.supervise(QUICK))
        try:
            other_pid = supervisor.pid("other")
            for round_ in (1, 2):
                old = await kill_service(supervisor, "web")
                new = await wait_restarted(supervisor, "web", old, timeout=TIMEOUT)
                assert new != old
                assert supervisor.restarts["web"] == round_
                async with httpx.AsyncClient(timeout=5.0) as client:
                    assert (await client.get(f"{web.url}/")).status_code == 200  # same port
            assert supervisor.pid("other") == other_pid
            assert supervisor.running("other")
            assert supervisor.restarts["other"] == 0
            restarts = [line for line in events if "restarted" in line]
            assert len(restarts) == 2
            assert restarts[0].startswith("web exited with code -9; restarted after 0.2s")
        finally:
            keeping.cancel()
    assert not supervisor.running("web")
    assert not supervisor.running("other")


async def test_a_crash_loop_is_held_back_with_its_last_lines_and_backoff_grows(
    tmp_path: Path,
) -> None:
    events: list[str] = []
    starts = tmp_path / "starts"
    loop_log = tmp_path / "broken.log"
    healthy = http_server("healthy", free_port())
    specs = [crashing("broken", starts, loop_log), healthy]
    async with Supervisor(specs, on_event=events.append) as supervisor:
        await supervisor.start()
        keeping = asyncio.ensure_future(supervisor.supervise(QUICK))
        try:
            ready = await supervisor.wait_ready(timeout=TIMEOUT, restarting=True)
            await eventually(lambda: "broken" in supervisor.held, "broken to be held back")
            assert ready == {"healthy"}
            # Held back: not started again, and the healthy one is untouched.
            assert supervisor.restarts["broken"] == QUICK.crash_limit - 1
            assert not keeping.done()
            assert supervisor.running("healthy")
            assert supervisor.restarts["healthy"] == 0
        finally:
            keeping.cancel()
    times = [float(line) for line in starts.read_text().split()]
    assert len(times) == QUICK.crash_limit
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each wait at least the policy's delay, which doubles: 0.2, 0.4, 0.8 seconds.
    for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= delay
    held = [line for line in events if "held back" in line]
    assert len(held) == 1
    assert held[0].startswith(f"broken exited {QUICK.crash_limit} times within 60s (last code 3)")
    assert "no such table: outbox" in held[0]  # its last log lines, shown


async def test_a_held_back_child_starts_again_when_asked(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    policy = RestartPolicy(initial_delay=0.05, crash_limit=2)
    async with Supervisor([crashing("broken", starts, tmp_path / "b.log")]) as supervisor:
        await supervisor.start()
        keeping = asyncio.ensure_future(supervisor.supervise(policy))
        try:
            await eventually(lambda: "broken" in supervisor.held, "held back")
            await supervisor.start(["broken"])
            assert "broken" not in supervisor.held
            await eventually(lambda: "broken" in supervisor.held, "held back again")
        finally:
            keeping.cancel()
    assert len(starts.read_text().split()) == 2 * policy.crash_limit


async def test_a_child_stopped_on_purpose_stays_stopped(tmp_path: Path) -> None:
    web = http_server("web", free_port())
    async with Supervisor([web]) as supervisor:
        await supervisor.start()
        await supervisor.wait_ready(timeout=TIMEOUT)
        keeping = asyncio.ensure_future(supervisor.supervise(QUICK))
        try:
            await supervisor.kill("web")
            await asyncio.sleep(QUICK.initial_delay * 3)  # past any restart's backoff
            assert not supervisor.running("web")
            assert supervisor.restarts["web"] == 0
        finally:
            keeping.cancel()


UP_LOOP = """
import sys
from pathlib import Path
from tidings.cli.run import _supervise
from tidings.processes import ProcessSpec, run_until_signalled

port, pids = int(sys.argv[1]), Path(sys.argv[2])
spec = ProcessSpec(
    name="web",
    argv=(sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
    url=f"http://127.0.0.1:{port}",
    ready_url=f"http://127.0.0.1:{port}/",
)
if run_until_signalled(_supervise([spec], Path("."), 60.0)):
    print("stopped every service", flush=True)
"""


async def test_ctrl_c_stops_tidings_up_and_every_child_cleanly(tmp_path: Path) -> None:
    """The loop `tidings up` runs: restarts a killed child, and one SIGINT ends it all."""
    port = free_port()
    up = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        UP_LOOP,
        str(port),
        str(tmp_path / "pids"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert up.stdout is not None
    lines: list[str] = []

    async def read_until(text: str) -> str:
        while True:
            raw = await asyncio.wait_for(up.stdout.readline(), TIMEOUT)  # type: ignore[union-attr]
            assert raw, f"tidings up ended before printing {text!r}: {lines}"
            lines.append(raw.decode().rstrip())
            if text in lines[-1]:
                return lines[-1]

    try:
        first = await read_until("(pid ")
        child = int(first.rsplit("pid ", 1)[1].rstrip(")"))
        await read_until("all services ready")
        os.kill(child, signal.SIGKILL)
        restarted = await read_until("restarted")
        assert restarted.startswith("web exited with code -9; restarted")
        replacement = int(restarted.split("(pid ", 1)[1].split(",")[0])
        up.send_signal(signal.SIGINT)
        await read_until("stopped every service")
        assert await asyncio.wait_for(up.wait(), TIMEOUT) == 0
        # The replacement got SIGINT and ended; nothing outlives `up`.
        await eventually(lambda: not _alive(replacement), "the child to be gone")
    finally:
        if up.returncode is None:
            up.kill()
            await up.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its (gone) parent counts as gone.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")
