"""The flow a new message belongs to, by default: the message being handled.

A consumer runs its handler inside :func:`caused_by` (the inbox does it for every
handler), so whatever the handler publishes, through the outbox or a saga, carries
the handled message's correlation id and names it as the cause, without the
handler passing anything. Work that does not run in a handler but continues a
flow (a saga's deadline firing, a listener of a saga's transition) enters it with
:func:`in_flow`. Explicit ids given to
:meth:`~tidings.messages.MessageRegistry.envelope_for` always win.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from tidings.messages.envelope import Envelope


@dataclass(frozen=True)
class Cause:
    """What a message created now inherits: the flow's id, and the id of its cause."""

    correlation_id: str
    causation_id: str | None


_cause: ContextVar[Cause | None] = ContextVar("tidings_message_cause", default=None)


def current_cause() -> Cause | None:
    """The cause new messages inherit here, or None (they start a flow)."""
    return _cause.get()


@contextmanager
def in_flow(correlation_id: str, causation_id: str | None = None) -> Iterator[Cause]:
    """Inside the block, new messages belong to flow ``correlation_id``, caused by
    ``causation_id`` (if given)."""
    cause = Cause(correlation_id, causation_id)
    token = _cause.set(cause)
    try:
        yield cause
    finally:
        _cause.reset(token)


@contextmanager
def caused_by(envelope: Envelope) -> Iterator[Cause]:
    """Inside the block, new messages follow ``envelope``: its flow, caused by it."""
    with in_flow(envelope.correlationid, envelope.id) as cause:
        yield cause
