from __future__ import annotations

from pathlib import Path

import pytest
from inbox_testkit import migrate

from tidings.storage.database import Database


@pytest.fixture
async def db(make_database, tmp_path: Path) -> Database:  # type: ignore[no-untyped-def]
    """A SQLite database with the inbox, dead_letters and effects tables."""
    database: Database = await make_database("sqlite")
    await migrate(database, tmp_path)
    return database
