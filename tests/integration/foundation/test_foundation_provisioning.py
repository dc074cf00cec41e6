"""Provisioning, migrations as the owner, grants and the isolation check on real servers.

Each test provisions a copy of the notes system under a unique name, so runs in
parallel never share a database or a role, and drops it all afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from examples.notes.system import system as notes
from tidings.cli import app
from tidings.cli.common import console
from tidings.errors import (
    AppendOnlyViolation,
    OperationalError,
    ProgrammingError,
    StorageError,
)
from tidings.provisioning import (
    admin_connection,
    admin_url,
    deprovision,
    parse_backend,
    read_env_file,
)
from tidings.settings import load_settings
from tidings.storage.capabilities import Backend
from tidings.storage.database import Database
from tidings.system import System, register

# The CLI runs its own event loop, so tests that invoke it are plain functions.
runner = CliRunner()

SERVER_BACKENDS = [
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
]


@dataclasses.dataclass
class Provisioned:
    system: System
    backend: str
    env_file: Path

    def invoke(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    def provision(self) -> tuple[int, str]:
        return self.invoke(
            "db", "provision", "--system", self.system.name, "--backend", self.backend,
            "--env-file", str(self.env_file),
        )  # fmt: skip

    def upgrade(self) -> tuple[int, str]:
        return self.invoke(
            "db", "upgrade", "--system", self.system.name, "--env-file", str(self.env_file)
        )

    def check(self) -> tuple[int, str]:
        return self.invoke(
            "isolation", "check", "--system", self.system.name, "--backend", self.backend,
            "--env-file", str(self.env_file),
        )  # fmt: skip

    def url(self, service: str, *, owner: bool = False) -> str:
        key = f"{service.upper()}_{'OWNER_' if owner else ''}DATABASE_URL"
        return read_env_file(self.env_file)[key]


@pytest.fixture(params=SERVER_BACKENDS)
def notes_copy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Provisioned]:
    backend: str = request.param
    copy = register(dataclasses.replace(notes, name=f"nt{uuid.uuid4().hex[:10]}"))
    # Wide enough that rich tables never wrap what the assertions look for.
    with mock.patch.dict(os.environ, {"COLUMNS": "250"}), mock.patch.object(console, "_width", 250):
        try:
            yield Provisioned(copy, backend, tmp_path / "runtime.env")
        finally:
            asyncio.run(deprovision(copy, parse_backend(backend), load_settings()))


def test_provisioning_is_idempotent_and_private(notes_copy: Provisioned) -> None:
    code, first = notes_copy.provision()
    assert code == 0, first
    lines = first.strip().splitlines()
    assert lines[-1] == str(notes_copy.env_file)
    for line, service in zip(lines, ("auth", "notes", "user"), strict=False):
        name, url, *_ = line.split()
        assert name == service
        assert f"{notes_copy.system.name}_{service}_app:***@" in url
        assert url.endswith(f"/{notes_copy.system.name}_{service}")
    assert stat.S_IMODE(notes_copy.env_file.stat().st_mode) == 0o600
    values = read_env_file(notes_copy.env_file)
    for service in ("auth", "notes", "user"):
        runtime = make_url(values[f"{service.upper()}_DATABASE_URL"])
        owner = make_url(values[f"{service.upper()}_OWNER_DATABASE_URL"])
        assert runtime.password
        assert runtime.password not in first
        assert (runtime.username, owner.username) == (
            f"{notes_copy.system.name}_{service}_app",
            f"{notes_copy.system.name}_{service}_owner",
        )
    content = notes_copy.env_file.read_text()

    code, second = notes_copy.provision()
    assert code == 0, second
    assert "nothing changed" in second
    assert second.count("(unchanged)") == 3
    assert second.strip().splitlines()[-1] == str(notes_copy.env_file)
    assert notes_copy.env_file.read_text() == content


def test_isolation_check_refuses_all_and_catches_an_over_grant(
    notes_copy: Provisioned,
) -> None:
    assert notes_copy.provision()[0] == 0
    code, output = notes_copy.upgrade()
    assert code == 0, output
    code, output = notes_copy.check()
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "refused 6/6"

    asyncio.run(_over_grant(notes_copy, reader="notes", owner_of_data="auth"))
    code, output = notes_copy.check()
    assert code == 1, output
    assert output.strip().splitlines()[-1] == "refused 5/6"
    assert "notes's credentials can read" in output


async def _over_grant(provisioned: Provisioned, *, reader: str, owner_of_data: str) -> None:
    """What a careless administrator might do: let one service read another's users."""
    backend = parse_backend(provisioned.backend)
    reader_role = make_url(provisioned.url(reader)).username
    database = make_url(provisioned.url(owner_of_data)).database
    table = provisioned.system.service(owner_of_data).tables[0]
    server = admin_url(backend, load_settings()).set(database=database)
    async with admin_connection(server) as connection:
        if backend is Backend.POSTGRESQL:
            await connection.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {reader_role}"))
            await connection.execute(text(f"GRANT SELECT ON {table} TO {reader_role}"))
        else:
            await connection.execute(
                text(f"GRANT SELECT ON {database}.{table} TO '{reader_role}'@'%'")
            )


def test_runtime_and_owner_roles_cannot_rewrite_the_audit_log(notes_copy: Provisioned) -> None:
    assert notes_copy.provision()[0] == 0
    assert notes_copy.upgrade()[0] == 0
    asyncio.run(_try_to_rewrite_the_audit_log(notes_copy))


async def _try_to_rewrite_the_audit_log(notes_copy: Provisioned) -> None:
    async with (
        Database("notes", notes_copy.url("notes")) as runtime,
        Database("notes", notes_copy.url("notes", owner=True)) as owner,
    ):
        async with runtime.transaction() as connection:
            await connection.execute(
                text(
                    "INSERT INTO audit_log (occurred_at, actor, action, entity, entity_id) "
                    "VALUES (CURRENT_TIMESTAMP, 'test', 'create', 'note', 'n-1')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO notes (id, user_id, content, created_at, version, updated_at) "
                    "VALUES ('n-1', 'u-1', 'x', CURRENT_TIMESTAMP, 1, CURRENT_TIMESTAMP)"
                )
            )
        async with runtime.transaction() as connection:
            await connection.execute(text("UPDATE notes SET content = 'y' WHERE id = 'n-1'"))
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            # No privilege for the runtime role. MariaDB's "command denied" (1142) arrives
            # from asyncmy as OperationalError, PostgreSQL's as ProgrammingError.
            with pytest.raises((ProgrammingError, OperationalError), match="denied"):
                async with runtime.transaction() as connection:
                    await connection.execute(text(statement))
            with pytest.raises(AppendOnlyViolation):  # the trigger: even the owner
                async with owner.transaction() as connection:
                    await connection.execute(text(statement))
        # The runtime role owns nothing and may create nothing.
        with pytest.raises(StorageError):
            async with runtime.transaction() as connection:
                await connection.execute(text("CREATE TABLE sneaky (id INTEGER)"))
        async with runtime.connect() as connection:
            count = (await connection.execute(text("SELECT COUNT(*) FROM audit_log"))).scalar()
        assert count == 1


def test_the_notes_demo_runs_on_provisioned_databases(notes_copy: Provisioned) -> None:
    assert notes_copy.provision()[0] == 0
    with mock.patch.dict(os.environ, read_env_file(notes_copy.env_file)):
        code, output = notes_copy.invoke("demo", "--system", notes_copy.system.name)
    assert code == 0, output
    assert "expected version 1, but the database holds version 2" in output
    assert "refused by the database" in output
    assert f"{notes_copy.system.name}_auth_app:***@" in output


def test_a_downgrade_that_drops_tables_needs_a_role_that_may_drop(notes_copy: Provisioned) -> None:
    """PostgreSQL's owner owns its tables and drops them; MariaDB's owner holds no DROP
    (it would let it TRUNCATE the audit log), so there the admin runs such a migration."""
    assert notes_copy.provision()[0] == 0
    assert notes_copy.upgrade()[0] == 0
    downgrade = (
        "db", "downgrade", "--system", notes_copy.system.name, "--service", "notes",
        "--revision", "base", "--env-file", str(notes_copy.env_file),
    )  # fmt: skip
    if notes_copy.backend == "postgres":
        code, output = notes_copy.invoke(*downgrade)
        assert code == 0, output
        return
    with pytest.raises(ProgrammingError, match="run this migration as the admin"):
        notes_copy.invoke(*downgrade)
    backend = parse_backend(notes_copy.backend)
    database = make_url(notes_copy.url("notes")).database
    admin = admin_url(backend, load_settings()).set(database=database)
    as_admin = {
        "NOTES_DATABASE_URL": notes_copy.url("notes"),
        "NOTES_OWNER_DATABASE_URL": admin.render_as_string(hide_password=False),
    }
    with mock.patch.dict(os.environ, as_admin):
        code, output = notes_copy.invoke(*downgrade[:-2])  # the environment, not the file
    assert code == 0, output

    async def tables() -> set[str]:
        owner = Database("notes", notes_copy.url("notes", owner=True))
        async with owner, owner.connect() as connection:
            rows = await connection.execute(text("SHOW TABLES"))
            return {str(row[0]) for row in rows}

    assert asyncio.run(tables()) == {"alembic_version_notes"}
