"""Removing published rows once nobody can need them again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from tidings.outbox.table import outbox
from tidings.storage.database import Database
from tidings.storage.types import utcnow


async def purge_published(
    database: Database, older_than: timedelta, *, chunk_size: int = 5000
) -> int:
    """Delete rows published more than ``older_than`` ago; return how many.

    Unpublished rows are never touched. Deletes in chunks of ``chunk_size``, each
    its own short transaction, so a large purge does not hold locks for long.
    """
    cutoff = utcnow() - older_than
    removed = 0
    while True:
        async with database.transaction() as connection:
            chosen = (
                select(outbox.c.seq)
                .where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
                .order_by(outbox.c.seq)
                .limit(chunk_size)
            )
            seqs = list((await connection.execute(chosen)).scalars())
            if seqs:
                await connection.execute(delete(outbox).where(outbox.c.seq.in_(seqs)))
        removed += len(seqs)
        if len(seqs) < chunk_size:
            return removed
