"""Typed messages and their wire form.

Events and commands are Pydantic models registered by type name and schema version
in a :class:`MessageRegistry`; on the wire each is a CloudEvents 1.0 JSON envelope
(:func:`encode`/:func:`decode`), whose older schema versions are upcast on read.
"""

from tidings.messages.base import Command, Event, Message
from tidings.messages.causation import Cause, caused_by, current_cause, in_flow
from tidings.messages.envelope import Envelope, decode, encode, headers_for
from tidings.messages.registry import MessageRegistry, Upcaster
from tidings.messages.tracing import TraceContext, continuing

__all__ = [
    "Cause",
    "Command",
    "Envelope",
    "Event",
    "Message",
    "MessageRegistry",
    "TraceContext",
    "Upcaster",
    "caused_by",
    "continuing",
    "current_cause",
    "decode",
    "encode",
    "headers_for",
    "in_flow",
]
