"""How far behind a service's relay is: the backlog and the oldest unpublished row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from tidings.outbox.metrics import outbox_metrics
from tidings.outbox.table import outbox
from tidings.storage.database import Database
from tidings.storage.types import utcnow


@dataclass(frozen=True)
class OutboxStatus:
    service: str
    backlog: int
    """Rows committed but not yet confirmed by the broker."""
    oldest_unpublished_at: datetime | None
    measured_at: datetime

    @property
    def oldest_age(self) -> timedelta | None:
        if self.oldest_unpublished_at is None:
            return None
        return max(self.measured_at - self.oldest_unpublished_at, timedelta(0))


async def outbox_status(database: Database, *, update_metrics: bool = True) -> OutboxStatus:
    """Count unpublished rows (through the partial index) and find the oldest."""
    unpublished = outbox.c.published_at.is_(None)
    statement = select(func.count(), func.min(outbox.c.created_at)).where(unpublished)
    async with database.connect() as connection:
        row = (await connection.execute(statement)).one()
    oldest = row[1]
    if isinstance(oldest, str):  # SQLite: an aggregate loses the column's type
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    status = OutboxStatus(database.service, int(row[0]), oldest, utcnow())
    if update_metrics:
        metrics = outbox_metrics()
        metrics.backlog.labels(database.service).set(status.backlog)
        age = status.oldest_age
        metrics.oldest_age.labels(database.service).set(age.total_seconds() if age else 0.0)
    return status
