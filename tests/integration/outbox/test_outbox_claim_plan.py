"""The relay's claim reads its batch from the unpublished rows' index, in seq order, on
every backend, however many rows are waiting and whatever the statistics say."""

from __future__ import annotations

import pytest
from outbox_server_support import Counted, registry
from sqlalchemy import text

from tidings.outbox import add_envelopes
from tidings.outbox import claim as sql
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import install_outbox

BACKLOG = 3000


async def fill(database: Database, rows: int) -> None:
    batch = [
        registry.envelope_for(
            Counted(n=n), source="orders", aggregate_type="c", aggregate_id=f"c-{n % 50}"
        )
        for n in range(rows)
    ]
    async with unit_of_work(database) as uow:
        await add_envelopes(uow, batch)


async def index_names(database: Database) -> set[str]:
    queries = {
        "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = 'outbox'",
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'",
        "mariadb": "SELECT DISTINCT index_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = 'outbox'",
    }
    async with database.read() as connection:
        query = queries[database.backend.value]
        return {str(row[0]) for row in await connection.execute(text(query))}


async def test_each_backend_gets_the_unpublished_index_it_can_use(database: Database) -> None:
    await install_outbox(database)
    names = await index_names(database)
    if database.backend.value == "mariadb":
        assert "ix_outbox_unpublished_at" in names, names
        assert "ix_outbox_unpublished" not in names
    else:
        assert "ix_outbox_unpublished" in names, names
        assert "ix_outbox_unpublished_at" not in names


@pytest.mark.postgres
async def test_postgres_claim_walks_the_index_instead_of_sorting_the_backlog(
    make_database,  # type: ignore[no-untyped-def]
) -> None:
    database: Database = await make_database("postgres", service="orders")
    await install_outbox(database)
    await fill(database, BACKLOG)  # never analyzed: the planner guesses a few rows
    async with database.transaction() as connection:
        claimed = await sql.claim(connection, limit=100, skip_locked=True)
        assert [row.seq for row in claimed] == sorted(row.seq for row in claimed)
        assert len(claimed) == 100
        # The same statement, planned under the settings the claim left in force.
        plan = "\n".join(
            str(row[0])
            for row in await connection.execute(
                text(
                    "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT seq FROM outbox "
                    "WHERE published_at IS NULL ORDER BY seq LIMIT 100 FOR UPDATE SKIP LOCKED"
                )
            )
        )
    assert "ix_outbox_unpublished" in plan, plan
    assert "Sort" not in plan, plan


async def test_claim_takes_the_oldest_rows_after_earlier_ones_were_published(
    database: Database,
) -> None:
    await install_outbox(database)
    await fill(database, 300)
    async with database.transaction() as connection:
        first = await sql.claim(connection, limit=120, skip_locked=False)
        await sql.mark_published(connection, [row.seq for row in first], utcnow())
    async with database.transaction() as connection:
        second = await sql.claim(connection, limit=500, skip_locked=False)
    assert len(second) == 180
    assert min(row.seq for row in second) > max(row.seq for row in first)
    assert [row.seq for row in second] == sorted(row.seq for row in second)
    async with database.read() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert count == 300, "claiming and marking keep every row"
