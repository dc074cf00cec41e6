"""Which privileges the runtime role gets on which tables."""

from __future__ import annotations

from pathlib import Path

from examples.notes.system import system
from tidings.eventstore.schema import event_writers
from tidings.migrations.access import RuntimeAccess, comment, declared, from_comment
from tidings.provisioning.grants import table_grants
from tidings.system import Service
from tidings.testing.storage import widget_metadata


def test_append_only_tables_get_select_and_insert_only() -> None:
    grants = table_grants(
        system.service("notes"), {"notes", "audit_log", "alembic_version_notes", "stray"}
    )
    assert grants.read_write == ("notes",)
    assert grants.append_only == ("audit_log",)
    assert grants.read_only == ("alembic_version_notes",)


def test_tables_not_yet_migrated_and_undeclared_tables_get_nothing(tmp_path: Path) -> None:
    service = Service(name="svc", metadata=widget_metadata, migrations=tmp_path)
    grants = table_grants(service, {"stray"})
    assert grants.read_write == grants.append_only == grants.read_only == ()


def test_what_an_operation_recorded_decides_even_for_tables_the_service_does_not_list() -> None:
    service = system.service("notes")
    assert "events" not in service.tables
    grants = table_grants(
        service,
        {
            "notes": "",
            "events": comment(RuntimeAccess.APPEND_ONLY),
            "event_writers": comment(RuntimeAccess.LOCK_ROWS),
            "snapshots": comment(RuntimeAccess.READ_WRITE),
            "stray": "made by hand",
        },
    )
    assert grants.read_write == ("notes", "snapshots")
    assert grants.append_only == ("events",)
    assert grants.lock_rows == ("event_writers",)
    assert "stray" not in {name for tables, _ in grants.levels() for name in tables}


def test_a_service_may_make_a_table_stricter_than_its_operation_did() -> None:
    service = system.service("notes")
    grants = table_grants(service, {"audit_log": comment(RuntimeAccess.READ_WRITE)})
    assert grants.append_only == ("audit_log",)
    assert grants.read_write == ()


def test_the_event_store_slots_are_declared_lockable_not_writable() -> None:
    assert declared(event_writers) is RuntimeAccess.LOCK_ROWS
    assert from_comment(comment(RuntimeAccess.LOCK_ROWS)) is RuntimeAccess.LOCK_ROWS
    assert from_comment("a comment someone wrote") is None
