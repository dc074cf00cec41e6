"""``tidings up`` and ``tidings load`` as a user runs them: eight service processes
(on SQLite files here, with NATS between them), guarded by the secrets ``up``
generated, driven by the load command (as customers and the staff account it reads
from the env file), then stopped with Ctrl-C (SIGINT) without any process left behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from e2e_shop_rig import free_port_block

from shop.common.auth import AuthConfig
from shop.system import system as shop_system
from tidings.brokers.nats import NatsBroker
from tidings.provisioning import read_env_file
from tidings.testing.brokers import BROKER_URLS

CLI = (sys.executable, "-c", "from tidings.cli import main; main()")
URL_LINE = re.compile(r"^(\w+)\s+(http://\S+)\s+\(pid (\d+)\)$")


async def read_until(stream: asyncio.StreamReader, marker: str, seen: list[str], timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {marker!r} after {timeout:.0f}s:\n" + "\n".join(seen))
        line = await asyncio.wait_for(stream.readline(), remaining)
        if not line:
            raise AssertionError(f"output ended before {marker!r}:\n" + "\n".join(seen))
        seen.append(line.decode().rstrip())
        if marker in seen[-1]:
            return


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.nats
async def test_e2e_up_runs_each_service_load_drives_them_and_ctrl_c_stops_all(
    tmp_path: Path,
) -> None:
    namespace = f"tidings_e2e_{uuid.uuid4().hex[:8]}"
    base_port = free_port_block(len(shop_system.services))
    environment = {
        key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")
    }
    environment.update(
        TIDINGS_DATA_DIR=str(tmp_path / "data"),
        TIDINGS_ENV_FILE=str(tmp_path / "runtime.env"),
        TERM="dumb",
        COLUMNS="200",
    )
    up = await asyncio.create_subprocess_exec(
        *CLI,
        *("up", "--system", "shop", "--backend", "sqlite", "--broker", "nats"),
        *("--namespace", namespace, "--base-port", str(base_port), "--pool-size", "2"),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert up.stdout is not None
    output: list[str] = []
    try:
        await read_until(up.stdout, "all services ready", output, timeout=90.0)
        services = {m[1]: (m[2], int(m[3])) for m in map(URL_LINE.match, output) if m}
        assert list(services) == [service.name for service in shop_system.services]
        assert services["users"][0] == f"http://127.0.0.1:{base_port}"

        # `up` wrote the shop's secrets; the services demand them.
        auth = AuthConfig.from_env(read_env_file(tmp_path / "runtime.env"))
        assert auth is not None
        assert auth.operator_token
        assert auth.staff_password
        async with httpx.AsyncClient(base_url=services["catalog"][0]) as catalog:
            assert (await catalog.get("/metrics")).status_code == 401
            operator = {"Authorization": f"Bearer {auth.operator_token}"}
            assert (await catalog.get("/metrics", headers=operator)).status_code == 200
            product = {"sku": "NOPE", "name": "Nope", "price_cents": 1}
            assert (await catalog.post("/products", json=product)).status_code == 401

        load = await asyncio.create_subprocess_exec(
            *CLI,
            *("load", "--system", "shop", "--orders", "12", "--concurrency", "4"),
            *("--base-port", str(base_port)),
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        printed, _ = await asyncio.wait_for(load.communicate(), 90.0)
        report = printed.decode()
        assert load.returncode == 0, report
        assert re.search(r"12 operations in [\d.]+s: [\d.]+/s", report), report
        for phase in ("place", "final"):
            assert re.search(rf"{phase}[\s│]+[\d.]+[\s│]+[\d.]+[\s│]+[\d.]+", report), report
        assert re.search(r"confirmed[\s│]+\d+", report), report

        # The operator's check, from another shell: the env file `up` wrote says where
        # each database is and where analytics answers (its chDB belongs to its process).
        written = (tmp_path / "runtime.env").read_text()
        assert f"ANALYTICS_HTTP_URL=http://127.0.0.1:{base_port + 7}" in written, written
        check = [*CLI, "--env-file", str(tmp_path / "runtime.env")]
        check += ["consistency", "check", "--system", "shop"]
        deadline = time.monotonic() + 60.0
        while True:
            checking = await asyncio.create_subprocess_exec(
                *check, env=environment, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            checked = (await asyncio.wait_for(checking.communicate(), 90.0))[0].decode()
            if checking.returncode == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)  # orders placed last may still be settling
        assert checking.returncode == 0, checked
        assert "0 drift found" in checked, checked
        assert "could not check" not in checked, checked

        up.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(up.communicate(), 60.0)
        output += rest.decode().splitlines()
        assert up.returncode == 0, "\n".join(output)
        assert "stopped every service" in output
        assert not [line for line in output if "killed" in line]
        assert not [name for name, (_, pid) in services.items() if alive(pid)]
        stopped = (tmp_path / "runtime.env").read_text()
        assert "ANALYTICS_HTTP_URL=\n" in stopped, "a stopped shop answers nowhere"
        logs = tmp_path / "data" / "shop" / "logs"
        for name in services:
            # Each child ran its shutdown to the end: relay, consumers and HTTP stopped.
            last = (logs / f"{name}.log").read_text().splitlines()[-1]
            assert last == f"{name} stopped"
    finally:
        if up.returncode is None:
            up.kill()
            await up.wait()
        async with NatsBroker(BROKER_URLS["nats"], namespace=namespace) as jetstream:
            await jetstream.delete_namespace()
