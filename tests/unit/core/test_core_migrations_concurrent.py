from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import MetaData

from tidings.migrations import runner
from tidings.storage.database import Database
from tidings.system import Service

_REVISION = """
revision = "{name}_0001"
down_revision = None
branch_labels = None
depends_on = None
from tidings.migrations import ops
def upgrade():
    ops.create_audit_log()
def downgrade():
    ops.drop_audit_log()
"""


async def test_services_started_together_migrate_without_trampling_each_other(
    tmp_path: Path,
) -> None:
    pairs = []
    for name in ("alpha", "beta", "gamma", "delta"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "0001.py").write_text(_REVISION.format(name=name))
        database = Database(name, f"sqlite:///{tmp_path}/{name}.db")
        pairs.append((database, Service(name, MetaData(), folder)))
    try:
        await asyncio.gather(*(runner.upgrade(db, service) for db, service in pairs))
        revisions = [await runner.current(db, service) for db, service in pairs]
    finally:
        for database, _ in pairs:
            await database.close()
    assert revisions == ["alpha_0001", "beta_0001", "gamma_0001", "delta_0001"]
