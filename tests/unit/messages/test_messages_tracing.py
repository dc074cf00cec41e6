from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tidings.messages import Event, MessageRegistry, TraceContext, continuing
from tidings.messages.tracing import parse_traceparent

registry = MessageRegistry()


@registry.register("test.Pinged")
class Pinged(Event):
    n: int


def test_new_flow_gets_a_fresh_valid_trace() -> None:
    first = registry.envelope_for(Pinged(n=1), source="t")
    second = registry.envelope_for(Pinged(n=2), source="t")
    assert parse_traceparent(first.traceparent) is not None
    assert first.trace_context is not None
    assert second.trace_context is not None
    assert first.trace_context.trace_id != second.trace_context.trace_id


def test_caused_message_keeps_the_trace_id_with_a_new_parent() -> None:
    cause = registry.envelope_for(Pinged(n=1), source="t")
    effect = registry.envelope_for(Pinged(n=2), source="t", caused_by=cause)
    assert cause.traceparent is not None
    assert effect.traceparent is not None
    assert effect.traceparent.split("-")[1] == cause.traceparent.split("-")[1]
    assert effect.traceparent.split("-")[2] != cause.traceparent.split("-")[2]


def test_trace_continues_from_broker_headers() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    effect = registry.envelope_for(
        Pinged(n=1), source="t", headers={"traceparent": parent, "tracestate": "k=v"}
    )
    assert effect.traceparent is not None
    assert effect.traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert effect.tracestate == "k=v"


def test_invalid_header_starts_a_new_trace() -> None:
    effect = registry.envelope_for(Pinged(n=1), source="t", headers={"traceparent": "00-zz"})
    assert effect.traceparent is not None
    assert parse_traceparent(effect.traceparent) is not None


def test_continuing_sets_the_context_for_a_block() -> None:
    context = TraceContext("00-11111111111111111111111111111111-2222222222222222-00")
    with continuing(context):
        inside = registry.envelope_for(Pinged(n=1), source="t")
    outside = registry.envelope_for(Pinged(n=1), source="t")
    assert inside.trace_context is not None
    assert outside.trace_context is not None
    assert inside.trace_context.trace_id == context.trace_id
    assert inside.traceparent is not None
    assert inside.traceparent.endswith("-00"), "keeps the sampled flag"
    assert outside.trace_context.trace_id != context.trace_id


def test_an_active_opentelemetry_span_wins() -> None:
    span_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(span_context)):
        envelope = registry.envelope_for(Pinged(n=1), source="t")
    assert envelope.traceparent == "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
    ],
)
def test_invalid_traceparents(value: str | None) -> None:
    assert parse_traceparent(value) is None
