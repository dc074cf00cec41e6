from __future__ import annotations

from pathlib import Path

import pytest
from inbox_testkit import migrate

from tidings.storage.database import Database


@pytest.fixture
async def db(database: Database, tmp_path: Path) -> Database:
    """The backend's fresh database with inbox, dead_letters and effects tables."""
    await migrate(database, tmp_path)
    return database
