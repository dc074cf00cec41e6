"""The consumer side: idempotent consumers behind an inbox, retries and dead letters.

::

    consumer = Consumer("profile-replica", database, registry)

    @consumer.handles(ProfileRenamed)
    async def renamed(uow: UnitOfWork, event: ProfileRenamed, envelope: Envelope) -> None:
        await uow.execute(update(authors).where(...).values(name=event.name))

    subscription = await consumer.start(broker)

A service's migrations create the tables with :mod:`tidings.inbox.ops`; the
Table objects are in :mod:`tidings.inbox.tables`. Events of one aggregate are
applied in version order (:mod:`tidings.inbox.ordering`).
"""

from __future__ import annotations

from tidings.inbox.cleanup import purge_inbox_periodically
from tidings.inbox.consumer import Consumer, MessageHandler, Outcome
from tidings.inbox.ordering import last_versions
from tidings.inbox.records import (
    DEFAULT_INBOX_RETENTION,
    ConsumerRecord,
    applied_ids,
    consumer_records,
    has_applied,
    percentile,
    purge_inbox,
    sync_delay_percentiles,
    sync_delays,
)
from tidings.inbox.replaying import replay
from tidings.inbox.retry import NO_RETRY, RetryPolicy
from tidings.inbox.store import (
    DeadLetter,
    Reason,
    count_dead_letters,
    get_dead_letter,
    list_dead_letters,
    purge_dead_letters,
)

__all__ = [
    "DEFAULT_INBOX_RETENTION",
    "NO_RETRY",
    "Consumer",
    "ConsumerRecord",
    "DeadLetter",
    "MessageHandler",
    "Outcome",
    "Reason",
    "RetryPolicy",
    "applied_ids",
    "consumer_records",
    "count_dead_letters",
    "get_dead_letter",
    "has_applied",
    "last_versions",
    "list_dead_letters",
    "percentile",
    "purge_dead_letters",
    "purge_inbox",
    "purge_inbox_periodically",
    "replay",
    "sync_delay_percentiles",
    "sync_delays",
]
