from __future__ import annotations

import pytest

from tidings.storage.database import Database
from tidings.testing.outbox import install_outbox


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
async def server_outbox_db(request: pytest.FixtureRequest, make_database) -> Database:  # type: ignore[no-untyped-def]
    database: Database = await make_database(request.param, service="orders")
    await install_outbox(database)
    return database
