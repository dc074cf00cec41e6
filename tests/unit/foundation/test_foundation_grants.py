"""Which privileges the runtime role gets on which tables."""

from __future__ import annotations

from pathlib import Path

from examples.notes.system import system
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
