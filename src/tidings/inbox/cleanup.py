"""A background task that keeps the inbox within its retention."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from tidings.errors import StorageError
from tidings.inbox.records import DEFAULT_INBOX_RETENTION, purge_inbox
from tidings.storage.database import Database

log = logging.getLogger("tidings.inbox")


async def purge_inbox_periodically(
    database: Database,
    stop: asyncio.Event,
    *,
    retention: timedelta = DEFAULT_INBOX_RETENTION,
    every: timedelta = timedelta(hours=1),
) -> None:
    """Purge inbox rows older than ``retention`` every ``every`` until ``stop`` is set.

    A failed purge is logged and tried again next time: a late purge only keeps
    rows a little longer, which is always safe.
    """
    while not stop.is_set():
        try:
            purged = await purge_inbox(database, retention)
        except StorageError as error:
            log.warning("inbox purge on %s failed: %s", database.describe, error)
        else:
            if purged:
                log.info("purged %d inbox rows older than %s", purged, retention)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every.total_seconds())
        except TimeoutError:
            continue
