"""W3C trace context (``traceparent``/``tracestate``) for messages.

When OpenTelemetry is installed and a span is active, a new message carries that
span's context. Otherwise tidings makes its own: a message that starts a flow gets
a fresh trace id, and a message caused by another keeps the cause's trace id with
a new parent id, so a flow stays one trace across services without a tracer.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


@dataclass(frozen=True)
class TraceContext:
    traceparent: str
    tracestate: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent.split("-")[1]


_current: ContextVar[TraceContext | None] = ContextVar("tidings_trace_context", default=None)


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """``(trace_id, parent_id, flags)`` of a valid version-00 traceparent, else None."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == _INVALID_TRACE_ID or parent_id == _INVALID_SPAN_ID:
        return None
    return trace_id, parent_id, flags


def new_trace() -> TraceContext:
    """A fresh trace (sampled), for a message that starts a flow."""
    return TraceContext(f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")


def child_of(parent: TraceContext) -> TraceContext:
    """The same trace with a new parent id: the context of a message ``parent`` caused."""
    parsed = parse_traceparent(parent.traceparent)
    if parsed is None:
        return new_trace()
    trace_id, _parent_id, flags = parsed
    return TraceContext(f"00-{trace_id}-{secrets.token_hex(8)}-{flags}", parent.tracestate)


def from_headers(headers: Mapping[str, str] | None) -> TraceContext | None:
    """The trace context in a carrier (broker headers), or None if it holds no valid one."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    traceparent = lowered.get("traceparent")
    if parse_traceparent(traceparent) is None or traceparent is None:
        return None
    return TraceContext(traceparent.strip().lower(), lowered.get("tracestate") or None)


def _opentelemetry_context() -> TraceContext | None:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - OpenTelemetry is optional
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags)
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    tracestate = context.trace_state.to_header() if context.trace_state else ""
    return TraceContext(traceparent, tracestate or None)


def current() -> TraceContext | None:
    """The active context: an OpenTelemetry span's, else the one :func:`continuing` set."""
    return _opentelemetry_context() or _current.get()


@contextmanager
def continuing(context: TraceContext | None) -> Iterator[None]:
    """Inside the block, new messages continue ``context`` (a consumer wraps its handler)."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def for_new_message(
    *, cause: TraceContext | None = None, headers: Mapping[str, str] | None = None
) -> TraceContext:
    """The trace context a new message carries.

    In order of precedence: the active OpenTelemetry span (its own id is the parent),
    then the trace of ``headers`` or of the causing message (same trace, new parent
    id), then the context set by :func:`continuing`; else a fresh trace.
    """
    active_span = _opentelemetry_context()
    if active_span is not None:
        return active_span
    parent = from_headers(headers) or cause or _current.get()
    return child_of(parent) if parent is not None else new_trace()
