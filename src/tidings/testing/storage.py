"""Conformance suites for the storage layer, one hook each: ``create_database()``.

A backend's test module subclasses a suite and says how to get a fresh, empty
database (connected with rights to create roles, on backends that have them)::

    from tidings.storage.capabilities import Backend
    from tidings.testing.databases import temporary_database
    from tidings.testing.storage import StorageConformance

    class TestStoragePostgres(StorageConformance):
        def create_database(self):
            return temporary_database(Backend.POSTGRESQL)

Suites: :class:`UnitOfWorkSuite` (commit, rollback, after-commit callbacks),
:class:`OptimisticLockingSuite` (versions, stale writes, two real concurrent writers),
:class:`AppendOnlySuite` (the audit log refuses UPDATE and DELETE for owner and runtime
roles), :class:`ErrorMappingSuite` (driver errors to the tidings tree, one-line
unreachable-server errors) and :class:`MigrationSuite` (upgrade, downgrade, current, a
failing revision); :class:`StorageConformance` is all of them.

The suites are pytest classes (they use ``tmp_path`` for migration scripts); their
names do not start with ``Test`` so they only run through a subclass.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select, text

from tidings import audit
from tidings.errors import (
    AppendOnlyViolation,
    ConcurrencyError,
    DatabaseError,
    IntegrityError,
    NotFound,
    OperationalError,
    ProgrammingError,
    StorageError,
)
from tidings.eventstore.base import NewEvent
from tidings.eventstore.factory import event_store_for
from tidings.migrations import runner
from tidings.provisioning.grants import apply_grants
from tidings.provisioning.temporary import temporary_roles
from tidings.storage.database import Database
from tidings.storage.locking import update_versioned, version_columns
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work
from tidings.system import Service

widget_metadata = MetaData()
widgets = Table(
    "widgets",
    widget_metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False),
    *version_columns(),
)

_REVISION = '''"""{doc}"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.migrations import ops
from tidings.storage.types import UTCDateTime

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''

_HISTORY: tuple[tuple[str, str | None, str, str, str], ...] = (
    (
        "w1",
        None,
        "widgets and the audit log",
        "    op.create_table(\n"
        '        "widgets",\n'
        '        sa.Column("id", sa.String(36), primary_key=True),\n'
        '        sa.Column("name", sa.String(100), nullable=False),\n'
        '        sa.Column("version", sa.Integer, nullable=False),\n'
        '        sa.Column("updated_at", UTCDateTime, nullable=False),\n'
        "    )\n"
        "    ops.create_audit_log()",
        '    ops.drop_audit_log()\n    op.drop_table("widgets")',
    ),
    (
        "w2",
        "w1",
        "a colour for widgets",
        '    op.add_column("widgets", sa.Column("colour", sa.String(20), nullable=True))',
        '    op.drop_column("widgets", "colour")',
    ),
)

_FAILING: tuple[str, str | None, str, str, str] = (
    "w3",
    "w2",
    "creates a table, then fails",
    '    op.create_table("doomed", sa.Column("id", sa.Integer, primary_key=True))\n'
    '    op.execute("INSERT INTO no_such_table_anywhere (id) VALUES (1)")',
    '    op.drop_table("doomed")',
)


def write_history(folder: Path, *, failing: bool = False) -> Path:
    """Write the suite's revision scripts (w1, w2 and, if asked, the failing w3) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for revision, down, doc, upgrade, downgrade in _HISTORY + ((_FAILING,) if failing else ()):
        script = _REVISION.format(
            doc=doc, revision=revision, down=down, upgrade=upgrade, downgrade=downgrade
        )
        (folder / f"{revision}.py").write_text(script)
    return folder


def widget_service(name: str, folder: Path, *, failing: bool = False) -> Service:
    return Service(
        name=name, metadata=widget_metadata, migrations=write_history(folder, failing=failing)
    )


class DatabaseHook:
    """The one hook every suite needs."""

    def create_database(self) -> AbstractAsyncContextManager[Database]:
        """A fresh, empty database, disposed of (dropped) when the context ends."""
        raise NotImplementedError

    async def migrated(self, database: Database, folder: Path) -> Service:
        service = widget_service(database.service, folder)
        await runner.upgrade(database, service)
        return service


async def add_widget(database: Database, widget_id: str, name: str = "sprocket") -> None:
    async with unit_of_work(database) as uow:
        await uow.execute(
            insert(widgets).values(id=widget_id, name=name, version=1, updated_at=utcnow())
        )


async def widget_row(database: Database, widget_id: str) -> tuple[str, int] | None:
    async with database.connect() as connection:
        row = (
            await connection.execute(
                select(widgets.c.name, widgets.c.version).where(widgets.c.id == widget_id)
            )
        ).first()
    return None if row is None else (str(row.name), int(row.version))


async def audit_count(database: Database) -> int:
    async with database.connect() as connection:
        count = (await connection.execute(text("SELECT COUNT(*) FROM audit_log"))).scalar()
    return int(count or 0)


class UnitOfWorkSuite(DatabaseHook):
    async def test_commit_keeps_business_rows_and_audit_entries_together(
        self, tmp_path: Path
    ) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            async with unit_of_work(database) as uow:
                await uow.execute(
                    insert(widgets).values(id="w-1", name="a", version=1, updated_at=utcnow())
                )
                await audit.record(uow, action="create", entity="widget", entity_id="w-1")
            assert await widget_row(database, "w-1") == ("a", 1)
            assert await audit_count(database) == 1

    async def test_an_error_rolls_back_every_row_of_the_unit(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            with pytest.raises(RuntimeError, match="changed my mind"):
                await _write_then_fail(database)
            assert await widget_row(database, "w-2") is None
            assert await audit_count(database) == 0

    async def test_after_commit_callbacks_run_only_once_committed(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            seen: list[tuple[str, int] | None] = []

            async def look() -> None:
                seen.append(await widget_row(database, "w-1"))

            async with unit_of_work(database) as uow:
                uow.after_commit(look)
                await uow.execute(
                    insert(widgets).values(id="w-1", name="a", version=1, updated_at=utcnow())
                )
                assert seen == []
            assert seen == [("a", 1)]

            with pytest.raises(RuntimeError, match="changed my mind"):
                await _write_then_fail(database, after_commit=look)
            assert seen == [("a", 1)]


async def _write_then_fail(
    database: Database, after_commit: Callable[[], Awaitable[None]] | None = None
) -> None:
    async with unit_of_work(database) as uow:
        if after_commit is not None:
            uow.after_commit(after_commit)
        await uow.execute(
            insert(widgets).values(id="w-2", name="a", version=1, updated_at=utcnow())
        )
        await audit.record(uow, action="create", entity="widget", entity_id="w-2")
        raise RuntimeError("changed my mind")


class OptimisticLockingSuite(DatabaseHook):
    async def test_a_write_at_the_current_version_moves_it_on(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            await add_widget(database, "w-1")
            async with unit_of_work(database) as uow:
                before = (
                    await uow.execute(select(widgets.c.updated_at).where(widgets.c.id == "w-1"))
                ).scalar_one()
                version = await update_versioned(uow, widgets, {"id": "w-1"}, 1, {"name": "b"})
            assert version == 2
            assert await widget_row(database, "w-1") == ("b", 2)
            async with database.connect() as connection:
                after = (
                    await connection.execute(
                        select(widgets.c.updated_at).where(widgets.c.id == "w-1")
                    )
                ).scalar_one()
            assert after >= before

    async def test_a_stale_write_names_the_row_and_both_versions(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            await add_widget(database, "w-1")
            async with unit_of_work(database) as uow:
                await update_versioned(uow, widgets, {"id": "w-1"}, 1, {"name": "b"})
            with pytest.raises(ConcurrencyError) as refused:
                async with unit_of_work(database) as uow:
                    await update_versioned(uow, widgets, {"id": "w-1"}, 1, {"name": "c"})
            assert (refused.value.expected, refused.value.actual) == (1, 2)
            assert "widgets(id='w-1')" in str(refused.value)
            assert "1" in str(refused.value)
            assert "2" in str(refused.value)
            assert await widget_row(database, "w-1") == ("b", 2)

    async def test_a_write_to_a_missing_row_is_not_found(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            with pytest.raises(NotFound, match="widgets"):
                async with unit_of_work(database) as uow:
                    await update_versioned(uow, widgets, {"id": "nope"}, 1, {"name": "x"})

    async def test_two_concurrent_writers_exactly_one_wins(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            for attempt in range(3):
                widget_id = f"w-{attempt}"
                await add_widget(database, widget_id)
                winners, losers = await _race(database, widget_id)
                assert len(winners) == 1, (winners, losers)
                assert len(losers) == 1, (winners, losers)
                lost = losers[0]
                assert (lost.expected, lost.actual) == (1, 2)
                assert widget_id in lost.subject
                assert await widget_row(database, widget_id) == (winners[0], 2)


async def _race(database: Database, widget_id: str) -> tuple[list[str], list[ConcurrencyError]]:
    """Two writers both read version 1, then both write; return winners' names and losers."""
    both_read = asyncio.Barrier(2)

    async def read_version() -> int:
        found = await widget_row(database, widget_id)
        assert found is not None
        return found[1]

    async def writer(name: str) -> str:
        if database.capabilities.row_locks:
            # Both transactions are open and both have read before either writes: the
            # second UPDATE waits on the first's row lock, then finds the version moved.
            async with unit_of_work(database) as uow:
                version = (
                    await uow.execute(select(widgets.c.version).where(widgets.c.id == widget_id))
                ).scalar_one()
                await both_read.wait()
                await update_versioned(uow, widgets, {"id": widget_id}, version, {"name": name})
        else:
            # One writer at a time holds the database, so both read before either begins.
            version = await read_version()
            await both_read.wait()
            async with unit_of_work(database) as uow:
                await update_versioned(uow, widgets, {"id": widget_id}, version, {"name": name})
        return name

    results = await asyncio.gather(writer("left"), writer("right"), return_exceptions=True)
    winners = [result for result in results if isinstance(result, str)]
    losers = [result for result in results if isinstance(result, ConcurrencyError)]
    unexpected = [r for r in results if isinstance(r, BaseException) and r not in losers]
    if unexpected:
        raise unexpected[0]
    return winners, losers


class AppendOnlySuite(DatabaseHook):
    async def test_the_owner_cannot_update_or_delete_the_audit_log(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            async with unit_of_work(database) as uow:
                await audit.record(uow, action="create", entity="widget", entity_id="w-1")
            for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
                with pytest.raises(AppendOnlyViolation, match="append-only"):
                    async with database.transaction() as connection:
                        await connection.execute(text(statement))
            assert await audit_count(database) == 1

    async def test_the_runtime_role_may_only_read_and_append(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            if not database.capabilities.roles:
                pytest.skip("the backend has no roles; the trigger test covers it")
            async with temporary_roles(database) as roles:
                service = await self.migrated(roles.owner, tmp_path)
                await apply_grants(roles.owner, service, roles.runtime.url)
                async with unit_of_work(roles.runtime) as uow:
                    await audit.record(uow, action="create", entity="widget", entity_id="w-1")
                # Ordinary tables stay writable: the grants are exact, not merely scarce.
                await add_widget(roles.runtime, "w-1")
                async with unit_of_work(roles.runtime) as uow:
                    await update_versioned(uow, widgets, {"id": "w-1"}, 1, {"name": "b"})
                for statement in (
                    "UPDATE audit_log SET action = 'forged'",
                    "DELETE FROM audit_log",
                ):
                    with pytest.raises((ProgrammingError, OperationalError, AppendOnlyViolation)):
                        async with roles.runtime.transaction() as connection:
                            await connection.execute(text(statement))
                    with pytest.raises(AppendOnlyViolation):
                        async with roles.owner.transaction() as connection:
                            await connection.execute(text(statement))
                assert await audit_count(roles.runtime) == 1

    async def test_the_owner_cannot_truncate_the_audit_log(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            if not database.capabilities.roles:
                pytest.skip("the backend has no roles and no TRUNCATE")
            async with temporary_roles(database) as roles:
                await self.migrated(roles.owner, tmp_path)
                async with unit_of_work(roles.owner) as uow:
                    await audit.record(uow, action="create", entity="widget", entity_id="w-1")
                # PostgreSQL's trigger refuses it; MariaDB's TRUNCATE fires no trigger, so
                # there the owner lacks the privilege it needs (DROP).
                with pytest.raises((AppendOnlyViolation, ProgrammingError)):
                    async with roles.owner.transaction() as connection:
                        await connection.execute(text("TRUNCATE TABLE audit_log"))
                assert await audit_count(roles.owner) == 1

    async def test_the_runtime_role_gets_what_library_operations_created(
        self, tmp_path: Path
    ) -> None:
        """A service that lists none of the event store's tables still gets the grants
        an event-sourced service needs: they follow the migration operations."""
        async with self.create_database() as database:
            if not database.capabilities.roles:
                pytest.skip("the backend has no roles")
            async with temporary_roles(database) as roles:
                service = widget_service(database.service, tmp_path)
                assert "events" not in service.tables
                (tmp_path / "w9.py").write_text(_EVENT_STORE_REVISION)
                await runner.upgrade(roles.owner, service)
                await apply_grants(roles.owner, service, roles.runtime.url)
                store = event_store_for(roles.runtime)
                appended = await store.append("s-1", [NewEvent("Made", {})], expected_version=0)
                async with unit_of_work(roles.runtime) as uow:
                    await store.append("s-1", [NewEvent("Used", {})], expected_version=1, uow=uow)
                assert await store.head_position() >= appended.last_position
                assert [e.type for e in await store.read_all()] == ["Made", "Used"]
                for statement in ("DELETE FROM events", "TRUNCATE TABLE events"):
                    with pytest.raises((ProgrammingError, AppendOnlyViolation)):
                        async with roles.runtime.transaction() as connection:
                            await connection.execute(text(statement))


_EVENT_STORE_REVISION = '''"""the event store, which the service does not list among its tables"""
from tidings.eventstore.schema import create_event_store, drop_event_store

revision = "w9"
down_revision = "w2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_store()


def downgrade() -> None:
    drop_event_store()
'''


class ErrorMappingSuite(DatabaseHook):
    async def test_a_duplicate_key_is_an_integrity_error(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            await add_widget(database, "w-1")
            with pytest.raises(IntegrityError):
                await add_widget(database, "w-1")

    async def test_bad_sql_is_a_programming_error(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            await self.migrated(database, tmp_path)
            with pytest.raises(ProgrammingError):
                async with database.connect() as connection:
                    await connection.execute(text("SELECT * FROM no_such_table_anywhere"))

    async def test_an_unreachable_database_is_one_line_naming_service_and_url(self) -> None:
        async with self.create_database() as database:
            url = database.url
            if url.host:
                # Port 1 (tcpmux) is closed on any machine that runs these tests.
                unreachable = url.set(port=1, password="s3cret-word", username="someone")
            else:
                unreachable = url.set(database="/no/such/directory/tidings.db")
            async with Database("orders", unreachable) as broken:
                with pytest.raises(OperationalError) as failed:
                    async with broken.connect() as connection:
                        await connection.execute(text("SELECT 1"))
            await _driver_threads_finished()
        message = str(failed.value)
        assert "\n" not in message
        assert message.startswith("service orders (")
        assert "s3cret-word" not in message
        if url.host:
            assert "someone:***@" in message
            assert ":1/" in message
        else:
            assert "/no/such/directory/tidings.db" in message


async def _driver_threads_finished(timeout: float = 5.0) -> None:
    """Wait until aiosqlite's worker threads have stopped.

    After a failed connect aiosqlite stops its thread with a future nobody awaits;
    if the event loop closes first, the thread raises "Event loop is closed".
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while any(
        "_connection_worker_thread" in thread.name and thread.is_alive()
        for thread in threading.enumerate()
    ):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("aiosqlite worker threads did not stop")
        await asyncio.sleep(0.01)


class MigrationSuite(DatabaseHook):
    async def test_upgrade_downgrade_and_current(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            service = widget_service(database.service, tmp_path)
            assert await runner.current(database, service) is None
            await runner.upgrade(database, service, "w1")
            assert await runner.current(database, service) == "w1"
            await runner.upgrade(database, service)
            assert await runner.current(database, service) == "w2"
            async with database.transaction() as connection:
                await connection.execute(text("SELECT colour FROM widgets"))
            await runner.downgrade(database, service, "w1")
            assert await runner.current(database, service) == "w1"
            with pytest.raises(DatabaseError, match="colour"):
                async with database.transaction() as connection:
                    await connection.execute(text("SELECT colour FROM widgets"))
            await runner.downgrade(database, service, "base")
            assert await runner.current(database, service) is None

    async def test_a_failing_migration_leaves_the_previous_version(self, tmp_path: Path) -> None:
        async with self.create_database() as database:
            service = widget_service(database.service, tmp_path, failing=True)
            await runner.upgrade(database, service, "w2")
            with pytest.raises(StorageError, match="migrating"):
                await runner.upgrade(database, service)
            assert await runner.current(database, service) == "w2"
            await add_widget(database, "w-1")  # the schema at w2 still works
            if database.capabilities.transactional_ddl:
                # The half-done revision's DDL rolled back with it.
                with pytest.raises(DatabaseError, match="doomed"):
                    async with database.connect() as connection:
                        await connection.execute(text("SELECT * FROM doomed"))


class StorageConformance(
    UnitOfWorkSuite, OptimisticLockingSuite, AppendOnlySuite, ErrorMappingSuite, MigrationSuite
):
    """Every storage suite at once."""
