from __future__ import annotations

from datetime import timedelta

from outbox_support import Counted, registry
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from tidings.outbox import Relay, add, outbox, outbox_status, purge_published
from tidings.outbox.notify import NOTIFY_INTERVAL, should_notify
from tidings.storage.database import Database
from tidings.storage.types import utcnow
from tidings.storage.uow import unit_of_work
from tidings.testing.outbox import RecordingBroker, uninstall_outbox


async def add_one(database: Database, n: int) -> None:
    async with unit_of_work(database) as uow:
        await add(uow, registry, Counted(n=n), aggregate_type="k", aggregate_id=f"a{n}")


async def count(database: Database) -> int:
    async with database.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(outbox))).scalar_one()
        )


async def test_status_reports_backlog_and_oldest_age(outbox_db: Database) -> None:
    empty = await outbox_status(outbox_db)
    assert (empty.backlog, empty.oldest_age) == (0, None)
    for n in range(3):
        await add_one(outbox_db, n)
    async with outbox_db.transaction() as connection:
        old = utcnow() - timedelta(minutes=5)
        await connection.execute(update(outbox).where(outbox.c.seq == 1).values(created_at=old))
    status = await outbox_status(outbox_db)
    assert status.service == "orders"
    assert status.backlog == 3
    assert status.oldest_age is not None
    assert timedelta(minutes=5) <= status.oldest_age < timedelta(minutes=6)
    assert REGISTRY.get_sample_value("tidings_outbox_backlog", {"service": "orders"}) == 3
    await Relay(outbox_db, RecordingBroker()).run_once()
    assert (await outbox_status(outbox_db)).backlog == 0
    assert REGISTRY.get_sample_value("tidings_outbox_backlog", {"service": "orders"}) == 0


async def test_purge_removes_only_old_published_rows(outbox_db: Database) -> None:
    for n in range(5):
        await add_one(outbox_db, n)
    await Relay(outbox_db, RecordingBroker(), batch_size=3).run_once()  # publishes seq 1..3
    async with outbox_db.transaction() as connection:
        long_ago = utcnow() - timedelta(days=8)
        await connection.execute(
            update(outbox).where(outbox.c.seq.in_([1, 2])).values(published_at=long_ago)
        )
        # An unpublished row, however old, is never purged.
        await connection.execute(
            update(outbox).where(outbox.c.seq == 5).values(created_at=long_ago)
        )
    assert await purge_published(outbox_db, timedelta(days=7), chunk_size=1) == 2
    assert await count(outbox_db) == 3
    assert await purge_published(outbox_db, timedelta(days=7)) == 0
    assert await purge_published(outbox_db, timedelta(0)) == 1
    assert (await outbox_status(outbox_db)).backlog == 2


async def test_publish_metrics_count_rows(outbox_db: Database) -> None:
    labels = {"service": "orders"}
    before = REGISTRY.get_sample_value("tidings_outbox_published_total", labels) or 0.0
    batches = REGISTRY.get_sample_value("tidings_outbox_publish_batch_seconds_count", labels) or 0
    for n in range(2):
        await add_one(outbox_db, n)
    await Relay(outbox_db, RecordingBroker()).run_once()
    assert REGISTRY.get_sample_value("tidings_outbox_published_total", labels) == before + 2
    after = REGISTRY.get_sample_value("tidings_outbox_publish_batch_seconds_count", labels)
    assert after == batches + 1


async def test_uninstall_drops_the_table(outbox_db: Database) -> None:
    await uninstall_outbox(outbox_db)
    async with outbox_db.connect() as connection:
        tables = await connection.run_sync(
            lambda sync: sync.dialect.get_table_names(sync)  # type: ignore[no-any-return]
        )
    assert "outbox" not in tables


def test_notify_is_throttled_per_database(outbox_db: Database) -> None:
    other = Database("other", "sqlite+aiosqlite:///elsewhere.db")
    start = 1_000_000.0
    assert should_notify(outbox_db, now=start)
    assert not should_notify(outbox_db, now=start + NOTIFY_INTERVAL / 2)
    assert should_notify(other, now=start + NOTIFY_INTERVAL / 2)
    assert should_notify(outbox_db, now=start + NOTIFY_INTERVAL)
