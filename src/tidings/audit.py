"""The audit log: an append-only record of who did what, in every service's database.

The database refuses UPDATE and DELETE on it (triggers, for every role) and the
runtime role may only SELECT and INSERT.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, String, Table, insert

from tidings.storage.library import library_metadata
from tidings.storage.types import BigIntId, UTCDateTime, utcnow
from tidings.storage.uow import UnitOfWork

audit_log = Table(
    "audit_log",
    library_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("occurred_at", UTCDateTime, nullable=False, default=utcnow),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("entity_id", String(200), nullable=False),
    Column("data", JSON, nullable=True),
)


async def record(
    uow: UnitOfWork,
    *,
    action: str,
    entity: str,
    entity_id: str,
    actor: str = "system",
    data: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry in the unit of work's transaction."""
    await uow.execute(
        insert(audit_log).values(
            occurred_at=utcnow(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            data=data,
        )
    )
