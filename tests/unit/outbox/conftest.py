from __future__ import annotations

import pytest

from tidings.storage.database import Database
from tidings.testing.outbox import install_outbox


@pytest.fixture
async def outbox_db(make_database) -> Database:  # type: ignore[no-untyped-def]
    database: Database = await make_database("sqlite", service="orders")
    await install_outbox(database)
    return database
