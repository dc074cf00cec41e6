"""What a log line and a new message carry about the work in hand: the flow's
correlation id and its W3C trace.

The trace lives where :mod:`tidings.messages.tracing` keeps it (new messages
continue it); this module adds the correlation id beside it, and one entry for
each way work arrives: :func:`handling` a message, :func:`receiving` a request.
Both are span-less: no tracer is needed, and an active OpenTelemetry span still
takes precedence (see :func:`tidings.messages.tracing.current`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from tidings.messages import tracing
from tidings.messages.causation import in_flow
from tidings.messages.envelope import HEADER_TRACEPARENT, HEADER_TRACESTATE, Envelope
from tidings.messages.tracing import TraceContext

#: The HTTP header a caller may set to name its flow.
CORRELATION_HEADER = "x-correlation-id"

A = TypeVar("A")
M = TypeVar("M")
R = TypeVar("R")

_correlation: ContextVar[str | None] = ContextVar("tidings_correlation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation.get()


def current_trace_id() -> str | None:
    """The trace id of the active context (an OpenTelemetry span's, else ours)."""
    context = tracing.current()
    return context.trace_id if context is not None else None


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Inside the block, logs carry ``correlation_id``."""
    token = _correlation.set(correlation_id)
    try:
        yield
    finally:
        _correlation.reset(token)


def trace_of(envelope: Envelope) -> TraceContext:
    """The envelope's trace context if it carries a valid one, else a fresh trace."""
    carried = tracing.from_headers(
        {
            HEADER_TRACEPARENT: envelope.traceparent or "",
            HEADER_TRACESTATE: envelope.tracestate or "",
        }
    )
    return carried or tracing.new_trace()


@contextmanager
def handling(envelope: Envelope) -> Iterator[TraceContext]:
    """Handle ``envelope`` inside the block.

    Logs carry its correlation id and trace id; messages created in the block
    continue its trace (same trace id, new parent id). A message without valid trace
    context starts a fresh trace, so its effects can still be followed.
    """
    context = trace_of(envelope)
    with tracing.continuing(context), correlated(envelope.correlationid):
        yield context


@contextmanager
def receiving(headers: Mapping[str, str]) -> Iterator[TraceContext]:
    """Serve a request with these headers inside the block.

    Its ``traceparent``/``tracestate`` are continued (else a fresh trace starts) and
    its ``x-correlation-id``, if any, is the correlation id of the logs and of the
    messages written while serving it.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    context = tracing.from_headers(lowered) or tracing.new_trace()
    flow = lowered.get(CORRELATION_HEADER) or None
    with tracing.continuing(context), correlated(flow):
        if flow is None:
            yield context
            return
        # The caller named its flow: the messages this request writes belong to it.
        with in_flow(flow):
            yield context


def traced(
    handler: Callable[[A, M, Envelope], Awaitable[R]],
) -> Callable[[A, M, Envelope], Awaitable[R]]:
    """Run a consumer's handler ``(uow, message, envelope)`` inside :func:`handling`::

    @consumer.handles(ProfileRenamed)
    @traced
    async def renamed(uow, event, envelope): ...
    """

    @functools.wraps(handler)
    async def run(first: A, message: M, envelope: Envelope) -> R:
        with handling(envelope):
            return await handler(first, message, envelope)

    return run
