"""The notes example through the CLI on the embedded default (SQLite files)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from examples.notes.system import system
from tidings.cli import app
from tidings.cli.common import console
from tidings.errors import ConfigurationError
from tidings.migrations.runner import heads

runner = CliRunner()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Path]:
    """A private data dir and env file; the process environment is restored afterwards."""
    with mock.patch.dict(os.environ):
        for service in system.services:
            os.environ.pop(service.env_var, None)
            os.environ.pop(f"{service.name.upper()}_OWNER_DATABASE_URL", None)
        os.environ["TIDINGS_DATA_DIR"] = str(tmp_path / "data")
        os.environ["TIDINGS_ENV_FILE"] = str(tmp_path / "runtime.env")
        # Wide enough that rich tables never wrap what the assertions look for.
        os.environ["COLUMNS"] = "250"
        with mock.patch.object(console, "_width", 250):
            yield tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_the_demo_runs_on_a_fresh_data_dir_and_again(embedded: Path) -> None:
    for run in (1, 2):
        code, output = invoke("demo", "--system", "notes")
        assert code == 0, output
        assert "refused" in output
        assert "expected version 1, but the database holds version 2" in output
        assert "append-only" in output
        assert ("already registered" in output) == (run == 2)
    for service in ("auth", "notes", "user"):
        assert (embedded / "data" / "notes" / f"{service}.db").exists()


def test_sqlite_provisioning_is_idempotent(embedded: Path) -> None:
    code, first = invoke("db", "provision", "--system", "notes", "--backend", "sqlite")
    assert code == 0, first
    lines = first.strip().splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["auth", "notes", "user"]
    assert lines[-1] == str(embedded / "runtime.env")
    assert stat.S_IMODE((embedded / "runtime.env").stat().st_mode) == 0o600
    content = (embedded / "runtime.env").read_text()
    assert "AUTH_DATABASE_URL=sqlite+aiosqlite:///" in content
    code, second = invoke("db", "provision", "--system", "notes", "--backend", "sqlite")
    assert code == 0
    assert "nothing changed" in second
    assert second.count("(unchanged)") == 3
    assert (embedded / "runtime.env").read_text() == content


def test_upgrade_current_downgrade_per_service(embedded: Path) -> None:
    head = {service.name: heads(service)[0] for service in system.services}
    code, output = invoke("db", "upgrade", "--system", "notes")
    assert code == 0, output
    for service in ("auth", "notes", "user"):
        assert f"{service}  {head[service]}" in output
    code, output = invoke(
        "db", "downgrade", "--system", "notes", "--service", "notes", "--revision", "base"
    )
    assert code == 0, output
    assert "notes  (none)" in output
    code, output = invoke("db", "current", "--system", "notes")
    assert code == 0
    assert f"auth  {head['auth']}" in output
    assert "notes  (none)" in output


def test_ownership_lists_each_service_database_and_tables(embedded: Path) -> None:
    code, output = invoke("ownership", "--system", "notes")
    assert code == 0, output
    for name in ("auth", "notes", "user", "users", "profiles", "audit_log (library, append-only)"):
        assert name in output


def test_isolation_check_needs_a_backend_with_roles(embedded: Path) -> None:
    result = runner.invoke(app, ["isolation", "check", "--system", "notes", "--backend", "sqlite"])
    assert isinstance(result.exception, ConfigurationError)
    assert "no roles" in str(result.exception)


def test_an_unreachable_server_is_one_line_naming_service_and_hidden_url(
    embedded: Path,
) -> None:
    env = dict(os.environ)
    env["NOTES_DATABASE_URL"] = "postgresql://someone:s3cret-word@127.0.0.1:1/nowhere"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tidings"), "db", "current", "--system", "notes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: service notes (postgresql+asyncpg://someone:***@")
    assert "s3cret-word" not in done.stderr + done.stdout
