"""``tidings up`` with a broker that does not answer stops in a second, naming it,
before it has provisioned or written anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLI = (sys.executable, "-c", "from tidings.cli import main; main()")
UP = ("up", "--system", "shop", "--backend", "sqlite", "--broker")


def test_up_names_a_broker_that_does_not_answer_and_provisions_nothing(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, env_file = tmp_path / "data", tmp_path / "runtime.env"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")},
        "TIDINGS_DATA_DIR": str(data),
        "TIDINGS_ENV_FILE": str(env_file),
    }
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tidings.cli import main; main()",
            "up",
            "--system",
            "shop",
            "--backend",
            "sqlite",
            "--broker",
            f"nats://127.0.0.1:{port}",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    output = (finished.stdout + finished.stderr).strip()
    assert output == f"error: the broker at 127.0.0.1:{port} (nats) does not answer"
    assert not env_file.exists()
    assert not list(data.glob("**/*.db"))


def test_up_refuses_a_broker_url_it_cannot_use(tmp_path: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tidings.cli import main; main()",
            "up",
            "--system",
            "shop",
            "--backend",
            "sqlite",
            "--broker",
            "kafka://127.0.0.1:9092",
        ],
        env={**os.environ, "TIDINGS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "scheme 'kafka' is not one of amqp, amqps, nats, tls" in finished.stderr
