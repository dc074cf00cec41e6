"""Writing outbox rows inside a unit of work: they commit with the business rows,
or not at all. Nothing is published here; the relay publishes committed rows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert

from tidings.messages.base import Message
from tidings.messages.envelope import Envelope, encode, headers_for
from tidings.messages.registry import MessageRegistry
from tidings.outbox.notify import hint_new_rows
from tidings.outbox.table import outbox
from tidings.storage.types import utcnow
from tidings.storage.uow import UnitOfWork

_TOPIC = re.compile(r"^[^.*#>\s]+(\.[^.*#>\s]+)*$")


def check_topic(topic: str) -> None:
    """Refuse, at write time, a topic no broker accepts (dot-separated words, no
    wildcards or spaces): a row the relay can never publish would block the rows
    of its aggregate behind it."""
    if not _TOPIC.match(topic):
        raise ValueError(f"topic {topic!r}: use dot-separated words without wildcards or spaces")


async def add(
    uow: UnitOfWork,
    registry: MessageRegistry,
    message: Message,
    *,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    caused_by: Envelope | None = None,
    subject: str | None = None,
    source: str | None = None,
    topic: str | None = None,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Envelope:
    """Write ``message`` to the outbox in ``uow``'s transaction; return its envelope.

    It is published after, and only if, the transaction commits. ``source``
    defaults to the service name and ``topic`` to the message's type name; the
    other arguments are those of :meth:`MessageRegistry.envelope_for` (``caused_by``
    is the message being handled, if any; ``headers`` may carry trace context).
    """
    envelope = registry.envelope_for(
        message,
        source=source or uow.service,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
        caused_by=caused_by,
        subject=subject,
        message_id=message_id,
        headers=headers,
    )
    await add_envelopes(uow, [envelope], topic=topic)
    return envelope


async def add_envelopes(
    uow: UnitOfWork,
    envelopes: Sequence[Envelope],
    *,
    topic: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Write ready envelopes to the outbox in one statement (in the given order).

    Each goes to ``topic``, or to its type name. An envelope without an aggregate
    is its own aggregate (type and id of the message), so it waits for no other.
    """
    if not envelopes:
        return
    for envelope in envelopes:
        check_topic(topic or envelope.type)
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": envelope.id,
            "aggregatetype": envelope.aggregatetype or envelope.type,
            "aggregateid": envelope.aggregateid or envelope.id,
            "type": envelope.type,
            "payload": encode(envelope).decode(),
            "topic": topic or envelope.type,
            "headers": {**headers_for(envelope), **(headers or {})},
            "created_at": now,
        }
        for envelope in envelopes
    ]
    await uow.execute(insert(outbox), rows)
    await hint_new_rows(uow)
