"""The transactional outbox and its relay.

``add(uow, registry, message, ...)`` writes a message in the unit of work's
transaction; a :class:`Relay` publishes committed rows to the broker, at least
once and in per-aggregate order; :func:`purge_published` removes old published
rows; :func:`outbox_status` reports the backlog. The table is created by
:func:`tidings.outbox.schema.create_outbox` in a service's migration.
"""

from tidings.outbox.backoff import Backoff
from tidings.outbox.cleanup import purge_published
from tidings.outbox.relay import Relay
from tidings.outbox.status import OutboxStatus, outbox_status
from tidings.outbox.table import outbox
from tidings.outbox.writer import add, add_envelopes

__all__ = [
    "Backoff",
    "OutboxStatus",
    "Relay",
    "add",
    "add_envelopes",
    "outbox",
    "outbox_status",
    "purge_published",
]
