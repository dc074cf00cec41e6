from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tidings.storage.database import Database


async def test_a_reader_never_waits_behind_an_open_writer_on_sqlite(tmp_path: Path) -> None:
    database = Database("svc", f"sqlite:///{tmp_path}/svc.db")
    try:
        async with database.transaction() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        async with database.transaction() as writer:
            await writer.execute(text("INSERT INTO t VALUES (1)"))
            async with database.read() as reader:
                before = (await reader.execute(text("SELECT count(*) FROM t"))).scalar()
        async with database.read() as reader:
            after = (await reader.execute(text("SELECT count(*) FROM t"))).scalar()
    finally:
        await database.close()
    assert (before, after) == (0, 1)
